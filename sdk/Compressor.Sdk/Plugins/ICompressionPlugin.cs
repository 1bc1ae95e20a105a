using Compressor.Sdk.Compression;
using Compressor.Sdk.Onnx;
using Compressor.Sdk.Options;

namespace Compressor.Sdk.Plugins;

/// <summary>The plugin contract. Implement it by deriving from <see cref="CompressionPlugin{TOptions}"/>; the class
/// needs a public parameterless constructor and is named by <see cref="PluginManifest.EntryType"/>.</summary>
public interface ICompressionPlugin
{
    /// <summary>The options record type (derived from <see cref="PluginOptions"/>).</summary>
    Type OptionsType { get; }

    /// <summary>Factories for the compressed layer kinds this plugin introduces beyond the SDK's own, so that its
    /// checkpoints reload (registered by the host when the plugin loads).</summary>
    IReadOnlyList<ICompressedLayerFactory> LayerFactories { get; }

    /// <summary>Rewrites <see cref="PluginContext.Model"/> in place and returns it with the lowerings of any new layer kinds.</summary>
    /// <param name="context">Model, data, device, seed, progress, logger, cancellation, work folder, report.</param>
    /// <param name="options">A validated instance of <see cref="OptionsType"/>.</param>
    PluginResult Run(PluginContext context, PluginOptions options);
}
