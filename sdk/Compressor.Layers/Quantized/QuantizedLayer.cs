using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Layers.Quantized;

/// <summary>A layer whose weight matrix [rows, columns] is stored as packed integer codes with per-group scales along
/// each row (<see cref="QuantizedFormat"/>), on any <see cref="WeightGeometry"/> (kinds <c>quantized_linear</c>,
/// <c>quantized_conv2d</c>, <c>quantized_embedding</c>). Buffers: <c>qweight</c> (uint8, the codes packed densely in
/// one bit stream, row-major (<see cref="IntPacking"/>): ONNX's own int2/int4/int8 packing at 2, 4 and 8 bits, exactly b
/// bits per code at 3, 5, 6 and 7), <c>scales</c> (float32 [rows, groups]), <c>zero_points</c> (uint8, packed like the codes;
/// asymmetric only) and <c>bias</c> (float32; linear and conv2d with a bias). Symmetric codes are signed, asymmetric
/// ones unsigned. An embedding decodes only the rows it looks up when rows start on byte boundaries.</summary>
public sealed class QuantizedLayer : GeometricLayer
{
    /// <summary>The representation's name in kind ids.</summary>
    public const string Representation = "quantized";

    /// <summary>The narrowest code width (signed 1-bit codes would hold only −1 and 0).</summary>
    public const int MinimumBits = 2;

    /// <summary>Creates an empty layer (zero codes, unit scales); fill it with <see cref="FromCodes"/> or by loading tensors.</summary>
    /// <exception cref="CompressException">Unsupported bits or invalid sizes (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public QuantizedLayer(QuantizedFormat format, WeightGeometry geometry) : this(format, geometry, null)
    {
    }

    /// <summary>An empty layer whose buffers live on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal QuantizedLayer(QuantizedFormat format, WeightGeometry geometry, Device? device) : base(nameof(QuantizedLayer), geometry)
    {
        if (format.Bits is < MinimumBits or > 8)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(QuantizedLayer)}: {format.Bits}-bit weights are not supported (2 to 8)");
        if (format.GroupSize < 0)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(QuantizedLayer)}: invalid group size {format.GroupSize}");
        Format = format;
        long groups = GroupQuantization.GroupCount(Columns, format.GroupSize);
        // The layer owns its buffers: they must outlive any dispose scope it is created in.
        register_buffer("qweight", zeros(IntPacking.PackedBytes(Rows * Columns, format.Bits), ScalarType.Byte, device: device).DetachFromDisposeScope());
        register_buffer("scales", ones(Rows, groups, device: device).DetachFromDisposeScope());
        if (!format.Symmetric) register_buffer("zero_points", zeros(IntPacking.PackedBytes(Rows * groups, format.Bits), ScalarType.Byte, device: device).DetachFromDisposeScope());
        RegisterBias(device);
    }

    /// <summary>Builds the layer from integer codes [rows, columns], scales [rows, groups], zero points [rows, groups]
    /// (asymmetric only) and an optional bias, on the device of <paramref name="codes"/>.</summary>
    /// <exception cref="ArgumentException">Shapes that do not match the geometry and format.</exception>
    public static QuantizedLayer FromCodes(WeightGeometry geometry, QuantizedFormat format, Tensor codes, Tensor scales, Tensor? zeroPoints, Tensor? bias)
    {
        var layer = new QuantizedLayer(format, geometry, codes.device);
        try
        {
            layer.SetState(codes, scales, zeroPoints, bias);
            return layer;
        }
        catch
        {
            layer.Dispose();
            throw;
        }
    }

    /// <summary>Bits, group size and symmetry.</summary>
    public QuantizedFormat Format { get; }

    /// <summary>Bits per code.</summary>
    public int Bits => Format.Bits;

    /// <summary>Weights per scale along a row (0: whole row).</summary>
    public int GroupSize => Format.GroupSize;

    /// <summary>Signed codes without zero points (true) or unsigned codes with zero points (false).</summary>
    public bool Symmetric => Format.Symmetric;

    /// <summary>Packed codes.</summary>
    public Tensor PackedCodes => get_buffer("qweight")!;

    /// <summary>Scales [rows, groups].</summary>
    public Tensor Scales => get_buffer("scales")!;

    /// <summary>Packed zero points, or null when symmetric.</summary>
    public Tensor? PackedZeroPoints => Symmetric ? null : get_buffer("zero_points");

    /// <inheritdoc/>
    public override string Kind => Representation + "_" + Geometry.Id;

    /// <inheritdoc/>
    public override object Config => LayerConfigs.Create(Format, Geometry);

    /// <summary>Integer codes as int32 [rows, columns].</summary>
    public Tensor Codes() => IntPacking.Unpack(PackedCodes, Rows * Columns, Bits, Symmetric).reshape(Rows, Columns);

    /// <summary>Zero points as int32 [rows, groups], or null.</summary>
    public Tensor? ZeroPoints() => PackedZeroPoints is { } z
        ? IntPacking.Unpack(z, Scales.numel(), Bits, signed: false).reshape(Scales.shape)
        : null;

    /// <summary>Fills the buffers from integer codes [rows, columns], scales [rows, groups], zero points and bias.</summary>
    private void SetState(Tensor codes, Tensor scales, Tensor? zeroPoints, Tensor? bias)
    {
        using var noGrad = no_grad();
        if (codes.dim() != 2 || codes.shape[0] != Rows || codes.shape[1] != Columns)
            throw new ArgumentException($"codes must be [{Rows}, {Columns}], got [{string.Join(", ", codes.shape)}]");
        if (!scales.shape.SequenceEqual(Scales.shape)) throw new ArgumentException($"scales must be [{string.Join(", ", Scales.shape)}]");
        using (var packed = IntPacking.Pack(codes, Bits, Symmetric)) PackedCodes.copy_(packed);
        Scales.copy_(scales);
        if (!Symmetric)
        {
            if (zeroPoints is null) throw new ArgumentException("asymmetric quantization needs zero points");
            using var pz = IntPacking.Pack(zeroPoints, Bits, signed: false);
            PackedZeroPoints!.copy_(pz);
        }
        SetBias(bias);
    }

    /// <inheritdoc/>
    public override Tensor DenseMatrix()
    {
        using var codes = Codes();
        using var zp = ZeroPoints();
        return GroupQuantization.Dequantize(codes, Scales, zp, GroupSize);
    }

    /// <summary>Decodes only the looked-up rows when each row's codes start on a byte boundary (columns·bits divisible
    /// by 8); otherwise the whole matrix.</summary>
    protected override Tensor DenseRows(Tensor rowIndices)
    {
        using var scope = NewDisposeScope();
        var scales = Scales.index_select(0, rowIndices);
        Tensor? zeros = ZeroPoints()?.index_select(0, rowIndices);
        Tensor codes;
        if (Columns * Bits % 8 == 0)
        {
            long rowBytes = Columns * Bits / 8;
            var packedRows = PackedCodes.reshape(Rows, rowBytes).index_select(0, rowIndices);
            codes = IntPacking.Unpack(packedRows, packedRows.shape[0] * Columns, Bits, Symmetric).reshape(-1, Columns);
        }
        else
        {
            codes = Codes().index_select(0, rowIndices);
        }
        return GroupQuantization.Dequantize(codes, scales, zeros, GroupSize).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override long WeightStorageBits => GroupQuantization.StorageBits(Rows, Columns, Bits, GroupSize, !Symmetric);
}
