using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace MyPlugin.Layers;

/// <summary>The compressed layer this plugin writes: int8 codes [out, in] (values within ±(2^(b−1) − 1)), one float
/// scale per output channel, and the float bias. Its buffers are what the compressed checkpoint stores; its
/// <see cref="Kind"/> and <see cref="Config"/> let <see cref="ChannelQuantLinearKind"/> rebuild it on load.</summary>
public sealed class ChannelQuantLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    private readonly Tensor _codes, _scales;
    private readonly Tensor? _bias;

    /// <summary>Creates the layer from its tensors (taken over, not copied).</summary>
    public ChannelQuantLinear(Tensor codes, Tensor scales, Tensor? bias, int bits) : base(nameof(ChannelQuantLinear))
    {
        Bits = bits;
        _codes = codes;
        _scales = scales;
        _bias = bias;
        register_buffer("codes", _codes);
        register_buffer("scales", _scales);
        if (_bias is not null) register_buffer("bias", _bias);
    }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }

    /// <summary>The int8 codes [out, in].</summary>
    public Tensor Codes => _codes;

    /// <summary>The scales [out].</summary>
    public Tensor Scales => _scales;

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => _bias;

    /// <inheritdoc/>
    public string Kind => ChannelQuantLinearKind.KindId;

    /// <inheritdoc/>
    public object Config => new ChannelQuantLinearConfig(_codes.shape[0], _codes.shape[1], Bits, _bias is not null);

    /// <inheritdoc/>
    public long[] DenseWeightShape => _codes.shape;

    /// <summary>The codes as stored (one byte each, whatever <see cref="Bits"/> is: packing 2/4-bit codes densely is the
    /// first thing to improve), plus one float32 scale per output channel.</summary>
    public long WeightStorageBits => _codes.numel() * 8 + _scales.numel() * 32;

    /// <inheritdoc/>
    public Tensor DenseWeight() => _codes.to_type(ScalarType.Float32).mul(_scales.unsqueeze(1));

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var weight = DenseWeight();
        return nn.functional.linear(input, weight, _bias);
    }
}
