using Compressor.Sdk.Layers;
using Compressor.Sdk.Options;

namespace Compressor.Sdk.Plugins;

/// <summary>The plugin contract. Implement it by deriving from <see cref="CompressionPlugin{TOptions}"/>; the class
/// needs a public parameterless constructor and is named by the <c>entryType</c> of the plugin's <c>plugin.json</c>.</summary>
public interface ICompressionPlugin
{
    /// <summary>The options record type (derived from <see cref="PluginOptions"/>).</summary>
    Type OptionsType { get; }

    /// <summary>The compressed layer kinds this plugin creates beyond the layers library's own, each declared once
    /// (id, config, factory, lowering). The host collects them from every installed plugin for each run, so that the
    /// plugin's checkpoints reload and export; nothing is registered globally.</summary>
    IReadOnlyList<ILayerKind> LayerKinds { get; }

    /// <summary>Rewrites <see cref="PluginContext.Model"/> in place.</summary>
    /// <param name="context">Model, data, device, seed, progress, logger, cancellation, resumable state, report.</param>
    /// <param name="options">A validated instance of <see cref="OptionsType"/>.</param>
    void Run(PluginContext context, PluginOptions options);
}
