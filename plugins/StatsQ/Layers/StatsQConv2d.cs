using Compressor.Sdk.Layers;
using Compressor.Layers.Packing;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The shipped form of the QAT patch embedding (kind <c>statsq_conv2d</c>): LSQ codes k [out, in, kh, kw]
/// with one step per output channel (W = a·k), a frozen input quantizer, and the float bias; groups 1, dilation 1.
/// Buffers <c>qweight</c> (packed, ONNX order), <c>step</c> [out], <c>bias</c>; child <c>input</c>.</summary>
public sealed class StatsQConv2d : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates an empty layer on <paramref name="device"/> (null: the default device).</summary>
    public StatsQConv2d(long inChannels, long outChannels, long[] kernel, long[] stride, long[] padding, int bits, bool hasBias, FrozenActivationQuantizer input, Device? device = null)
        : base(nameof(StatsQConv2d))
    {
        InChannels = inChannels; OutChannels = outChannels; Kernel = kernel; Stride = stride; Padding = padding; Bits = bits;
        long count = outChannels * inChannels * kernel[0] * kernel[1];
        register_buffer("qweight", zeros(IntPacking.PackedBytes(count, CodedLinear.ContainerBits(bits)), ScalarType.Byte, device: device).DetachFromDisposeScope());
        register_buffer("step", ones(outChannels, device: device).DetachFromDisposeScope());
        if (hasBias) register_buffer("bias", zeros(outChannels, device: device).DetachFromDisposeScope());
        register_module("input", input);
    }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Kernel [kh, kw].</summary>
    public long[] Kernel { get; }

    /// <summary>Stride [sh, sw].</summary>
    public long[] Stride { get; }

    /// <summary>Padding [ph, pw].</summary>
    public long[] Padding { get; }

    /// <summary>Bits of the codes.</summary>
    public int Bits { get; }

    /// <summary>Steps per output channel.</summary>
    public Tensor Step => get_buffer("step")!;

    /// <summary>The bias, or null.</summary>
    public Tensor? Bias => get_buffer("bias");

    /// <summary>The input quantizer.</summary>
    public FrozenActivationQuantizer Input => (FrozenActivationQuantizer)named_children().First(c => c.name == "input").module;

    /// <summary>Packed codes.</summary>
    public Tensor PackedCodes => get_buffer("qweight")!;

    /// <summary>Codes as int32 [out, in, kh, kw].</summary>
    public Tensor Codes() => IntPacking.Unpack(PackedCodes, DenseWeightShape.Aggregate(1L, (a, b) => a * b), CodedLinear.ContainerBits(Bits), signed: true)
        .reshape(DenseWeightShape);

    /// <summary>Fills codes, steps and bias.</summary>
    public void SetState(Tensor codes, Tensor step, Tensor? bias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        PackedCodes.copy_(IntPacking.Pack(codes, CodedLinear.ContainerBits(Bits), signed: true));
        Step.copy_(step.flatten());
        if (bias is not null) Bias!.copy_(bias);
    }

    /// <inheritdoc/>
    public string Kind => StatsQConv2dKind.KindId;

    /// <inheritdoc/>
    public object Config => new StatsQConv2dConfig(InChannels, OutChannels, Kernel, Stride, Padding, Bits, Bias is not null, Input.Config);

    /// <inheritdoc/>
    public long[] DenseWeightShape => [OutChannels, InChannels, Kernel[0], Kernel[1]];

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var codes = Codes();
        using var f = codes.to_type(ScalarType.Float32);
        return f.mul(Step.reshape(-1, 1, 1, 1));
    }

    /// <inheritdoc/>
    public long WeightStorageBits => DenseWeightShape.Aggregate(1L, (a, b) => a * b) * CodedLinear.ContainerBits(Bits) + OutChannels * 32 + Input.StorageBits;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xq = Input.forward(x);
        return nn.functional.conv2d(xq, DenseWeight(), Bias, Stride, Padding).MoveToOuterDisposeScope();
    }
}
