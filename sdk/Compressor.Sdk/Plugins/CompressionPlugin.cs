using Compressor.Sdk.Compression;
using Compressor.Sdk.Options;

namespace Compressor.Sdk.Plugins;

/// <summary>The base class of plugins: typed options, a default empty set of layer factories. Keep the derived
/// class thin — it wires options to the algorithm, which lives in its own files.</summary>
/// <typeparam name="TOptions">The plugin's options record.</typeparam>
public abstract class CompressionPlugin<TOptions> : ICompressionPlugin where TOptions : PluginOptions, new()
{
    /// <inheritdoc/>
    public Type OptionsType => typeof(TOptions);

    /// <inheritdoc/>
    public virtual IReadOnlyList<ICompressedLayerFactory> LayerFactories => [];

    /// <inheritdoc/>
    public PluginResult Run(PluginContext context, PluginOptions options) => options is TOptions typed
        ? Run(context, typed)
        : throw new ArgumentException($"expected options of type {typeof(TOptions).Name}, got {options.GetType().Name}", nameof(options));

    /// <summary>Rewrites the model with typed options.</summary>
    protected abstract PluginResult Run(PluginContext context, TOptions options);
}
