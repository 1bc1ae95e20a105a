using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Qat;

/// <summary>A convolution during QAT with an LSQ weight quantizer per output channel and an LSQ input quantizer per
/// tensor (the patch embedding: 8 bits in the reference, which quantizes the image per RGB channel — the same as
/// per tensor for the one-channel images used here).</summary>
public sealed class QatConv2d : LayerContainer
{
    /// <summary>Wraps <paramref name="conv"/> (taking ownership).</summary>
    public QatConv2d(TorchSharp.Modules.Conv2d conv, int bits) : base("qat_conv")
    {
        register_module("conv", conv);
        register_module("wq", new LsqQuantizer(bits, signed: true, LsqGranularity.PerRow));
        register_module("act", new LsqQuantizer(bits, signed: true, LsqGranularity.PerTensor));
    }

    /// <summary>The latent convolution.</summary>
    public TorchSharp.Modules.Conv2d Conv => (TorchSharp.Modules.Conv2d)GetChild("conv");

    /// <summary>When false the layer is the plain FP convolution (used to measure what the rewrite itself changes).</summary>
    public bool QuantizationEnabled { get; set; } = true;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var conv = Conv;
        if (!QuantizationEnabled)
            return nn.functional.conv2d(x, conv.weight!, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups).MoveToOuterDisposeScope();
        var xq = Child("act").forward(x);
        var w = ((LsqQuantizer)GetChild("wq")).forward(conv.weight!);
        return nn.functional.conv2d(xq, w, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups).MoveToOuterDisposeScope();
    }
}
