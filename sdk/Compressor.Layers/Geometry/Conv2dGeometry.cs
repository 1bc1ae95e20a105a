using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Compressor.Layers.Geometry;

/// <summary>A 2-D convolution with symmetric padding, W of shape [out, in/groups, kh, kw], seen as the matrix
/// [out, in/groups·kh·kw].</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels (rows).</param>
/// <param name="Kernel">Kernel [kh, kw].</param>
/// <param name="Stride">Stride [sh, sw].</param>
/// <param name="Padding">Padding [ph, pw], both sides.</param>
/// <param name="Dilation">Dilation [dh, dw].</param>
/// <param name="ConvGroups">Convolution groups (they must divide both channel counts).</param>
/// <param name="Bias">Whether the layer adds a bias.</param>
public sealed record Conv2dGeometry(long InChannels, long OutChannels, long[] Kernel, long[] Stride, long[] Padding, long[] Dilation, long ConvGroups, bool Bias)
    : WeightGeometry
{
    /// <inheritdoc/>
    [JsonIgnore]
    public override string Id => "conv2d";

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Rows => OutChannels;

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Columns => InChannels / ConvGroups * Kernel[0] * Kernel[1];

    /// <inheritdoc/>
    [JsonIgnore]
    public override long[] DenseShape => [OutChannels, InChannels / ConvGroups, Kernel[0], Kernel[1]];

    /// <inheritdoc/>
    [JsonIgnore]
    public override bool HasBias => Bias;

    /// <inheritdoc/>
    public override Tensor Apply(Tensor input, Tensor weight, Tensor? bias) =>
        nn.functional.conv2d(input, weight, bias, Stride, Padding, Dilation, ConvGroups);

    /// <summary>Whether the sizes describe a convolution (two-element kernel/stride/padding/dilation, positive sizes,
    /// groups dividing both channel counts); the message says what is wrong.</summary>
    public bool IsValid(out string problem)
    {
        problem = "";
        if (Kernel is not { Length: 2 } || Stride is not { Length: 2 } || Padding is not { Length: 2 } || Dilation is not { Length: 2 })
            problem = "kernel, stride, padding and dilation need two entries each";
        else if (InChannels < 1 || OutChannels < 1 || Kernel.Any(k => k < 1) || Stride.Any(s => s < 1) || Dilation.Any(d => d < 1) || Padding.Any(p => p < 0))
            problem = "sizes must be positive (padding non-negative)";
        else if (ConvGroups < 1 || InChannels % ConvGroups != 0 || OutChannels % ConvGroups != 0)
            problem = $"groups {ConvGroups} must divide {InChannels} and {OutChannels}";
        return problem.Length == 0;
    }

    /// <summary>The geometry of <paramref name="conv"/>.</summary>
    public static Conv2dGeometry Of(TorchSharp.Modules.Conv2d conv) => new(conv.in_channels, conv.out_channels, conv.kernel_size.ToArray(),
        conv.stride.ToArray(), conv.padding?.ToArray() ?? [0, 0], conv.dilation.ToArray(), conv.groups, conv.bias is not null);
}
