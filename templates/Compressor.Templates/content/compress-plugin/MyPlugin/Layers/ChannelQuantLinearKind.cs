using Compressor.Sdk;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace MyPlugin.Layers;

/// <summary>The layer kind, declared once: its id (unique across plugins, so prefixed with the plugin id), its config
/// record, the factory that rebuilds an empty layer on load, and its ONNX lowering. The plugin hands it to the host
/// through <see cref="MyPluginPlugin.LayerKinds"/>.</summary>
public sealed class ChannelQuantLinearKind : LayerKind<ChannelQuantLinear, ChannelQuantLinearConfig>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "my-plugin.channel_quant_linear";

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override ChannelQuantLinear Create(ChannelQuantLinearConfig config)
    {
        if (config.Out < 1 || config.In < 1 || config.Bits is < 2 or > 8)
            throw new CompressException(ErrorKind.InvalidInput, $"{KindId}: invalid config {config}");
        return new ChannelQuantLinear(zeros([config.Out, config.In], ScalarType.Int8), ones(config.Out), config.Bias ? zeros(config.Out) : null, config.Bits);
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, ChannelQuantLinear layer, string input, string output) =>
        ChannelQuantLinearLowering.Lower(context, layer, input, output);
}
