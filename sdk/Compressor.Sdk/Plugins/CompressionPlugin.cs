using Compressor.Sdk.Layers;
using Compressor.Sdk.Options;

namespace Compressor.Sdk.Plugins;

/// <summary>The base class of plugins: typed options and no layer kinds of its own by default. Keep the derived class
/// thin — it wires options to the algorithm, which lives in its own files.</summary>
/// <typeparam name="TOptions">The plugin's options record.</typeparam>
public abstract class CompressionPlugin<TOptions> : ICompressionPlugin where TOptions : PluginOptions, new()
{
    /// <inheritdoc/>
    public Type OptionsType => typeof(TOptions);

    /// <inheritdoc/>
    public virtual IReadOnlyList<ILayerKind> LayerKinds => [];

    /// <inheritdoc/>
    public void Run(PluginContext context, PluginOptions options)
    {
        if (options is not TOptions typed)
            throw new ArgumentException($"expected options of type {typeof(TOptions).Name}, got {options.GetType().Name}", nameof(options));
        Run(context, typed);
    }

    /// <summary>Rewrites the context's model with typed options.</summary>
    protected abstract void Run(PluginContext context, TOptions options);
}
