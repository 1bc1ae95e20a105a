using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Sdk.Plugins;

namespace Compressor.Plugins.Jlcm;

/// <summary>The <c>jlcm</c> plugin (Yvinec, Dapogny, Bailly, ICLR 2024): post-training grouped codebook quantization of
/// linear and conv layers from unlabelled calibration data. Rows are grouped (and the re-ordering folded into the
/// neighbouring layer where possible), each group gets a codebook or a scale of a shared codebook, and codebooks and
/// mappings are learned jointly with the proximal mapping gradient. The layers it writes (the layers library's
/// <c>codebook_linear</c> and <c>codebook_conv2d</c> kinds, and <c>quantized_*</c> for the rtn baseline) and their ONNX
/// lowerings are the library's, so compressed checkpoints reload and export without this plugin.</summary>
public sealed class JlcmPlugin : CompressionPlugin<JlcmOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, JlcmOptions options) => JlcmCompressor.Run(context, options);
}
