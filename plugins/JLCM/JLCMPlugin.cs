using Compressor.Sdk.Plugins;

namespace Compressor.Plugins.JLCM;

/// <summary>The <c>jlcm</c> plugin (Yvinec, Dapogny, Bailly, ICLR 2024): post-training grouped codebook quantization of
/// linear and conv layers from unlabelled calibration data. Rows are grouped (and the re-ordering folded into the
/// neighbouring layer where possible), each group gets a codebook or a scale of a shared codebook, and codebooks and
/// mappings are learned jointly with the proximal mapping gradient. The layers it writes
/// (<see cref="Compressor.Sdk.Layers.CodebookLinear"/>, <see cref="Compressor.Sdk.Layers.CodebookConv2d"/>) and their ONNX
/// lowerings are the SDK's, so compressed checkpoints reload and export without this plugin.</summary>
public sealed class JLCMPlugin : CompressionPlugin<JlcmOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, JlcmOptions options)
    {
        JlcmCompressor.Run(context, options);
        return PluginResult.Of(context.Model);
    }
}
