using Compressor.Plugins.Gptq.Algorithm;
using Compressor.Sdk.Plugins;

namespace Compressor.Plugins.Gptq;

/// <summary>The <c>gptq</c> plugin: second-order post-training weight quantization (GPTQ, Frantar et al., ICLR 2023)
/// of linear and conv layers from unlabelled calibration data, optionally after activation-aware scaling (AWQ, Lin et
/// al., MLSys 2024) folded into the preceding layer. It writes the layers library's <c>quantized_linear</c> and
/// <c>quantized_conv2d</c> kinds, so its checkpoints reload and export (MatMulNBits where ORT fuses) without it.</summary>
public sealed class GptqPlugin : CompressionPlugin<GptqOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, GptqOptions options) => GptqCompressor.Run(context, options);
}
