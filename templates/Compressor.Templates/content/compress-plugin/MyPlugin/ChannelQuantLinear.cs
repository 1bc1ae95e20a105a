using Compressor.Sdk;
using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MyPlugin;

/// <summary>The compressed layer this plugin writes: int8 codes [out, in] (values within ±(2^(b−1) − 1)), one float
/// scale per output channel, and the float bias. Its buffers are what the compressed checkpoint stores; its
/// <see cref="Kind"/> and <see cref="Config"/> let <see cref="Factory"/> rebuild it on load.</summary>
public sealed class ChannelQuantLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>The layer kind id (unique across plugins: prefixed with the plugin id).</summary>
    public const string KindId = "my-plugin.channel_quant_linear";

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
    public string Kind => KindId;

    /// <inheritdoc/>
    public JObject Config => new() { ["out"] = _codes.shape[0], ["in"] = _codes.shape[1], ["bits"] = Bits, ["bias"] = _bias is not null };

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

    /// <summary>Rebuilds an empty layer from its manifest config.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject config)
        {
            long outputs = config["out"]?.Type == JTokenType.Integer ? (long)config["out"]! : -1;
            long inputs = config["in"]?.Type == JTokenType.Integer ? (long)config["in"]! : -1;
            int bits = config["bits"]?.Type == JTokenType.Integer ? (int)config["bits"]! : -1;
            if (outputs < 1 || inputs < 1 || bits is < 2 or > 8)
                throw new CompressException(ErrorKind.InvalidInput, $"{KindId}: malformed layer config {config.ToString(Newtonsoft.Json.Formatting.None)}");
            bool bias = config["bias"]?.Type == JTokenType.Boolean && (bool)config["bias"]!;
            return new ChannelQuantLinear(zeros([outputs, inputs], ScalarType.Int8), ones(outputs), bias ? zeros(outputs) : null, bits);
        }
    }
}
