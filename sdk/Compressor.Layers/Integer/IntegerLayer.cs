using Compressor.Layers.Geometry;
using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Layers.Integer;

/// <summary>A layer that computes in 8-bit integers (W8A8): int8 weight codes [rows, columns] with one float32 scale
/// per output channel (symmetric, no zero point), and an 8-bit input quantizer (<see cref="IntegerFormat"/>): static
/// (a calibrated scale and uint8 zero point), or dynamic per token / per tensor. Linear and conv2d geometries (kinds
/// <c>integer_linear</c>, <c>integer_conv2d</c>). Buffers: <c>qweight</c> (int8 [rows, columns]), <c>scales</c>
/// (float32 [rows]), <c>input_scale</c> (float32 [1]) and <c>input_zero_point</c> (uint8 [1]) when static, and
/// <c>bias</c>. Forward: the input quantized exactly as the ONNX operators of the lowering do
/// (<see cref="IntegerActivation"/>), then the geometry's product with the dequantized weight — the value ONNX
/// Runtime's integer kernels compute, which sum the codes in int32 and scale once. With
/// <see cref="IntegerFormat.QuantizedOutput"/> (a static conv2d), also <c>output_scale</c> (float32 [1]) and
/// <c>output_zero_point</c> (uint8 [1]): the bias is rounded to the product's int32 grid and the output requantized
/// to uint8 as <c>QLinearConv</c> does.</summary>
public sealed class IntegerLayer : GeometricLayer
{
    /// <summary>The representation's name in kind ids.</summary>
    public const string Representation = "integer";

    /// <summary>Creates an empty layer (zero codes, unit scales, static zero point 128).</summary>
    /// <exception cref="CompressException">An embedding geometry, per-token quantization of a convolution, or invalid
    /// sizes (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public IntegerLayer(IntegerFormat format, WeightGeometry geometry) : this(format, geometry, null)
    {
    }

    /// <summary>An empty layer whose buffers live on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    private IntegerLayer(IntegerFormat format, WeightGeometry geometry, Device? device) : base(nameof(IntegerLayer), geometry)
    {
        if (geometry is EmbeddingGeometry)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(IntegerLayer)}: an embedding has no input to quantize (use a quantized embedding)");
        if (geometry is Conv2dGeometry && format.Activations == ActivationQuantization.DynamicPerToken)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(IntegerLayer)}: per-token input scales do not factor out of a convolution (use static or dynamic per-tensor)");
        if (format.QuantizedOutput && (geometry is not Conv2dGeometry || format.Activations != ActivationQuantization.Static))
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(IntegerLayer)}: a quantized output (QLinearConv) needs a conv2d with static input quantization");
        Format = format;
        register_buffer("qweight", zeros([Rows, Columns], ScalarType.Int8, device: device).DetachFromDisposeScope());
        register_buffer("scales", ones(Rows, device: device).DetachFromDisposeScope());
        if (format.Activations == ActivationQuantization.Static)
        {
            register_buffer("input_scale", ones(1, device: device).DetachFromDisposeScope());
            register_buffer("input_zero_point", full(1, 128, ScalarType.Byte, device: device).DetachFromDisposeScope());
        }
        if (format.QuantizedOutput)
        {
            register_buffer("output_scale", ones(1, device: device).DetachFromDisposeScope());
            register_buffer("output_zero_point", full(1, 128, ScalarType.Byte, device: device).DetachFromDisposeScope());
        }
        RegisterBias(device);
    }

    /// <summary>Builds the layer from int8 codes [rows, columns] (in −128…127), per-channel scales [rows], the static
    /// input scale and zero point (ignored unless static) and an optional bias.</summary>
    /// <exception cref="ArgumentException">Shapes or values that do not fit.</exception>
    public static IntegerLayer FromCodes(WeightGeometry geometry, IntegerFormat format, Tensor codes, Tensor scales, float inputScale, int inputZeroPoint, Tensor? bias) =>
        FromCodes(geometry, format, codes, scales, inputScale, inputZeroPoint, 1f, 128, bias);

    /// <summary>As <see cref="FromCodes(WeightGeometry, IntegerFormat, Tensor, Tensor, float, int, Tensor?)"/>, with the
    /// static output scale and uint8 zero point of a <see cref="IntegerFormat.QuantizedOutput"/> format (ignored
    /// otherwise).</summary>
    /// <exception cref="ArgumentException">Shapes or values that do not fit.</exception>
    public static IntegerLayer FromCodes(WeightGeometry geometry, IntegerFormat format, Tensor codes, Tensor scales, float inputScale, int inputZeroPoint,
        float outputScale, int outputZeroPoint, Tensor? bias)
    {
        var layer = new IntegerLayer(format, geometry, codes.device);
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            if (codes.dim() != 2 || codes.shape[0] != layer.Rows || codes.shape[1] != layer.Columns)
                throw new ArgumentException($"codes must be [{layer.Rows}, {layer.Columns}], got [{string.Join(", ", codes.shape)}]");
            if (codes.numel() > 0 && (codes.min().to_type(ScalarType.Int64).item<long>() < -128 || codes.max().to_type(ScalarType.Int64).item<long>() > 127))
                throw new ArgumentException("int8 weight codes must lie in −128…127");
            if (scales.numel() != layer.Rows) throw new ArgumentException($"scales must have {layer.Rows} entries");
            layer.Codes.copy_(codes.to_type(ScalarType.Int8));
            layer.Scales.copy_(scales.reshape(layer.Rows).to_type(ScalarType.Float32));
            if (format.Activations == ActivationQuantization.Static)
            {
                if (!(inputScale > 0) || !float.IsFinite(inputScale)) throw new ArgumentException($"the static input scale must be positive, got {inputScale}");
                if (inputZeroPoint is < 0 or > 255) throw new ArgumentException($"the static input zero point must lie in 0…255, got {inputZeroPoint}");
                layer.get_buffer("input_scale")!.fill_(inputScale);
                layer.get_buffer("input_zero_point")!.fill_(inputZeroPoint);
            }
            if (format.QuantizedOutput)
            {
                if (!(outputScale > 0) || !float.IsFinite(outputScale)) throw new ArgumentException($"the static output scale must be positive, got {outputScale}");
                if (outputZeroPoint is < 0 or > 255) throw new ArgumentException($"the static output zero point must lie in 0…255, got {outputZeroPoint}");
                layer.get_buffer("output_scale")!.fill_(outputScale);
                layer.get_buffer("output_zero_point")!.fill_(outputZeroPoint);
            }
            layer.SetBias(bias);
            return layer;
        }
        catch
        {
            layer.Dispose();
            throw;
        }
    }

    /// <summary>Quantizes a float weight (the geometry's dense shape, or [rows, columns]) to int8 per output channel,
    /// symmetric round to nearest with s = max|w_row|/127 (1 for a zero row), and builds the layer.</summary>
    public static IntegerLayer FromWeight(WeightGeometry geometry, IntegerFormat format, Tensor weight, float inputScale, int inputZeroPoint, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var (codes, scales) = QuantizeWeight(weight.detach().reshape(geometry.Rows, geometry.Columns));
        return FromCodes(geometry, format, codes, scales, inputScale, inputZeroPoint, bias);
    }

    /// <summary>Symmetric per-row int8 round to nearest of <paramref name="w"/> [rows, columns]: codes in −127…127 and
    /// scales max|w_row|/127 (1 for a zero row).</summary>
    public static (Tensor Codes, Tensor Scales) QuantizeWeight(Tensor w)
    {
        using var scope = NewDisposeScope();
        var f = w.to_type(ScalarType.Float32);
        var s = f.abs().amax([1L]).div(127f);
        s = where(s.eq(0), ones_like(s), s);
        var q = f.div(s.unsqueeze(1)).round().clamp(-127, 127).to_type(ScalarType.Int32);
        return (q.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>The format.</summary>
    public IntegerFormat Format { get; }

    /// <summary>The int8 weight codes [rows, columns].</summary>
    public Tensor Codes => get_buffer("qweight")!;

    /// <summary>The weight scales per output channel [rows].</summary>
    public Tensor Scales => get_buffer("scales")!;

    /// <summary>The static input scale (1 unless static).</summary>
    public float InputScale => Format.Activations == ActivationQuantization.Static ? get_buffer("input_scale")!.item<float>() : 1f;

    /// <summary>The static uint8 input zero point (128 unless static).</summary>
    public int InputZeroPoint => Format.Activations == ActivationQuantization.Static ? get_buffer("input_zero_point")!.item<byte>() : 128;

    /// <summary>The static output scale (1 unless <see cref="IntegerFormat.QuantizedOutput"/>).</summary>
    public float OutputScale => Format.QuantizedOutput ? get_buffer("output_scale")!.item<float>() : 1f;

    /// <summary>The static uint8 output zero point (128 unless <see cref="IntegerFormat.QuantizedOutput"/>).</summary>
    public int OutputZeroPoint => Format.QuantizedOutput ? get_buffer("output_zero_point")!.item<byte>() : 128;

    /// <summary>The bias codes on the int32 grid of the product, round(b / (input scale · weight scale)) per output
    /// channel, saturated to int32 (as int64), for a <see cref="IntegerFormat.QuantizedOutput"/> layer; null without
    /// a bias.</summary>
    public Tensor? BiasCodes()
    {
        if (Bias is not { } b) return null;
        using var scope = NewDisposeScope();
        return b.div(Scales.mul(InputScale)).round().clamp(int.MinValue, int.MaxValue).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string Kind => Representation + "_" + Geometry.Id;

    /// <inheritdoc/>
    public override object Config => LayerConfigs.Create(Format, Geometry);

    /// <inheritdoc/>
    public override Tensor DenseMatrix()
    {
        using var scope = NewDisposeScope();
        return Codes.to_type(ScalarType.Float32).mul(Scales.unsqueeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>The input as the integer kernel sees it (quantized and dequantized).</summary>
    public Tensor QuantizeInput(Tensor x) => Format.Activations switch
    {
        ActivationQuantization.Static => IntegerActivation.Static(x, InputScale, InputZeroPoint),
        ActivationQuantization.DynamicPerToken => IntegerActivation.PerToken(x),
        _ => IntegerActivation.PerTensor(x),
    };

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var xq = QuantizeInput(input);
        var w = DenseWeight();
        if (!Format.QuantizedOutput) return Geometry.Apply(xq, w, Bias).MoveToOuterDisposeScope();
        // QLinearConv: the bias on the product's int32 grid, the result requantized to the static uint8 output grid.
        var bias = BiasCodes() is { } codes ? codes.to_type(ScalarType.Float32).mul(Scales.mul(InputScale)) : null;
        var y = Geometry.Apply(xq, w, bias);
        return IntegerActivation.Static(y, OutputScale, OutputZeroPoint).MoveToOuterDisposeScope();
    }

    /// <summary>8 bits per weight, a float32 scale per output channel, and the input quantizer's constants: the static
    /// scale and uint8 zero point, or the per-token levels (127), smallest scale and unit scale (float32) and zero point
    /// 128 (uint8) that its lowering writes.</summary>
    public override long WeightStorageBits => Rows * Columns * 8 + Rows * 32 + Format.Activations switch
    {
        ActivationQuantization.Static => 32 + 8,
        ActivationQuantization.DynamicPerToken => 3 * 32 + 8,
        _ => 0,
    } + (Format.QuantizedOutput ? 32 + 8 + 8 : 0);
}
