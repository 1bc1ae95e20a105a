using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;
using MyPlugin.Algorithm;
using MyPlugin.Layers;

namespace MyPlugin;

/// <summary>The <c>my-plugin</c> plugin. The class stays thin: it hands the host the layer kind it writes (so that its
/// checkpoints reload and export) and calls the algorithm.</summary>
public sealed class MyPluginPlugin : CompressionPlugin<MyPluginOptions>
{
    /// <inheritdoc/>
    public override IReadOnlyList<ILayerKind> LayerKinds { get; } = [new ChannelQuantLinearKind()];

    /// <inheritdoc/>
    protected override void Run(PluginContext context, MyPluginOptions options) => ChannelQuantization.Run(context, options);
}
