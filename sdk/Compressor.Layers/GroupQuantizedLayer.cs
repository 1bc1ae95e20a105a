using Compressor.Sdk.Compression;
using Compressor.Sdk.Quantization;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>Shared state of layers whose weight is stored as packed integer codes with per-group scales (and zero
/// points when asymmetric): buffers <c>qweight</c> (uint8, packed flat in ONNX order), <c>scales</c> (float32
/// [rows, groups]), <c>zero_points</c> (uint8, packed like the codes; asymmetric only) and <c>bias</c> (float32).
/// Symmetric codes are signed, asymmetric ones unsigned.</summary>
public abstract class GroupQuantizedLayer : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates the layer with zero-filled buffers of the right shapes.</summary>
    protected GroupQuantizedLayer(string name, long rows, long cols, int bits, int groupSize, bool symmetric, bool hasBias) : base(name)
    {
        if (!IntPacking.SupportedBits.Contains(bits))
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: {bits}-bit weights are not supported (2, 4, 8)");
        if (rows <= 0 || cols <= 0 || groupSize < 0)
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: invalid shape [{rows}, {cols}] or group size {groupSize}");
        Rows = rows; Cols = cols; Bits = bits; GroupSize = groupSize; Symmetric = symmetric;
        long groups = GroupQuantization.GroupCount(cols, groupSize);
        // The layer owns its buffers: they must outlive any dispose scope it is created in.
        register_buffer("qweight", zeros(IntPacking.PackedBytes(rows * cols, bits), ScalarType.Byte).DetachFromDisposeScope());
        register_buffer("scales", ones(rows, groups).DetachFromDisposeScope());
        if (!symmetric) register_buffer("zero_points", zeros(IntPacking.PackedBytes(rows * groups, bits), ScalarType.Byte).DetachFromDisposeScope());
        if (hasBias) register_buffer("bias", zeros(rows).DetachFromDisposeScope());
    }

    /// <summary>Rows of the weight matrix (output channels).</summary>
    public long Rows { get; }

    /// <summary>Columns of the weight matrix (inputs per output).</summary>
    public long Cols { get; }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }

    /// <summary>Weights per scale along a row (0: whole row).</summary>
    public int GroupSize { get; }

    /// <summary>Signed codes without zero points (true) or unsigned codes with zero points (false).</summary>
    public bool Symmetric { get; }

    /// <summary>Packed codes.</summary>
    public Tensor PackedCodes => get_buffer("qweight")!;

    /// <summary>Scales [rows, groups].</summary>
    public Tensor Scales => get_buffer("scales")!;

    /// <summary>Packed zero points, or null when symmetric.</summary>
    public Tensor? PackedZeroPoints => Symmetric ? null : get_buffer("zero_points");

    /// <summary>The bias, or null.</summary>
    public Tensor? Bias => get_buffer("bias");

    /// <summary>Integer codes as int32 [rows, cols].</summary>
    public Tensor Codes() => IntPacking.Unpack(PackedCodes, Rows * Cols, Bits, Symmetric).reshape(Rows, Cols);

    /// <summary>Zero points as int32 [rows, groups], or null.</summary>
    public Tensor? ZeroPoints() => PackedZeroPoints is { } z
        ? IntPacking.Unpack(z, Scales.numel(), Bits, signed: false).reshape(Scales.shape)
        : null;

    /// <summary>Fills the buffers from integer codes [rows, cols], scales [rows, groups] and zero points.</summary>
    protected void SetState(Tensor codes, Tensor scales, Tensor? zeroPoints, Tensor? bias)
    {
        using var noGrad = no_grad();
        if (codes.shape[0] != Rows || codes.shape[1] != Cols) throw new ArgumentException("codes have the wrong shape");
        if (!scales.shape.SequenceEqual(Scales.shape)) throw new ArgumentException("scales have the wrong shape");
        using (var packed = IntPacking.Pack(codes, Bits, Symmetric)) PackedCodes.copy_(packed);
        Scales.copy_(scales);
        if (!Symmetric)
        {
            if (zeroPoints is null) throw new ArgumentException("asymmetric quantization needs zero points");
            using var pz = IntPacking.Pack(zeroPoints, Bits, signed: false);
            PackedZeroPoints!.copy_(pz);
        }
        if (bias is not null) Bias!.copy_(bias);
    }

    /// <summary>The dense matrix [rows, cols] (q − z)·s.</summary>
    protected Tensor DenseMatrix()
    {
        using var codes = Codes();
        using var zp = ZeroPoints();
        return GroupQuantization.Dequantize(codes, Scales, zp, GroupSize);
    }

    /// <inheritdoc/>
    public abstract string Kind { get; }

    /// <inheritdoc/>
    public abstract JObject Config { get; }

    /// <inheritdoc/>
    public abstract long[] DenseWeightShape { get; }

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var m = DenseMatrix();
        return m.reshape(DenseWeightShape);
    }

    /// <inheritdoc/>
    public long WeightStorageBits => GroupQuantization.StorageBits(Rows, Cols, Bits, GroupSize, !Symmetric);

    /// <summary>The config fields common to both layer kinds.</summary>
    protected JObject CommonConfig() => new()
    {
        ["bits"] = Bits, ["groupSize"] = GroupSize, ["symmetric"] = Symmetric, ["bias"] = Bias is not null,
    };

    /// <summary>Reads an integer config field, with a one-line error.</summary>
    protected static long Read(JObject c, string key, long min = 0)
    {
        var t = c[key];
        if (t is null || t.Type != JTokenType.Integer || (long)t < min)
            throw new CompressException(ErrorKind.InvalidInput, $"compressed layer config: '{key}' missing or invalid");
        return (long)t;
    }

    /// <summary>Reads a boolean config field, with a one-line error.</summary>
    protected static bool ReadBool(JObject c, string key) => c[key]?.Type == JTokenType.Boolean
        ? (bool)c[key]! : throw new CompressException(ErrorKind.InvalidInput, $"compressed layer config: '{key}' missing or invalid");

    /// <summary>Reads an integer array config field, with a one-line error.</summary>
    protected static long[] ReadArray(JObject c, string key, int length) =>
        c[key] is JArray a && a.Count == length && a.All(x => x.Type == JTokenType.Integer)
            ? a.Select(x => (long)x).ToArray()
            : throw new CompressException(ErrorKind.InvalidInput, $"compressed layer config: '{key}' missing or invalid");
}
