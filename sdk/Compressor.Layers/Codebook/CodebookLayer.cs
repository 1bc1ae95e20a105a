using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Layers.Codebook;

/// <summary>A layer whose weight matrix [O, I] (rows, columns) is a grouped codebook (<see cref="CodebookFormat"/>), on
/// any <see cref="WeightGeometry"/> (kinds <c>codebook_linear</c>, <c>codebook_conv2d</c>). Buffers: <c>indices</c>
/// (uint8, the indices packed flat, row-major: densely, b bits each, for new layers; in 2/4/8-bit containers for
/// layers of config version 1 (<see cref="IndexPacking"/>); ONNX layout at 2, 4 and 8 bits), <c>codebooks</c> (float16 [1 or G, K]),
/// <c>scales</c> (float16 [G]; variant scales only), <c>row_order</c> (int16/int32 [O], only when the rows were
/// re-ordered and the permutation could not be folded: original row j is stored row row_order[j]) and <c>bias</c>
/// (float32, original order). The dense weight is computed in float32 as float(codeword) · float(scale), which the
/// ONNX lowering reproduces bit for bit.</summary>
public sealed class CodebookLayer : GeometricLayer
{
    /// <summary>The representation's name in kind ids.</summary>
    public const string Representation = "codebook";

    /// <summary>Creates an empty layer (all indices 0); fill it with <see cref="FromIndices"/> or by loading tensors.</summary>
    /// <exception cref="CompressException">Unsupported bits, groups or sizes (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public CodebookLayer(CodebookFormat format, WeightGeometry geometry) : this(format, geometry, null)
    {
    }

    /// <summary>An empty layer whose buffers live on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal CodebookLayer(CodebookFormat format, WeightGeometry geometry, Device? device) : base(nameof(CodebookLayer), geometry)
    {
        if (format.Bits is < 1 or > 8)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(CodebookLayer)}: {format.Bits}-bit codebook indices are not supported (1..8)");
        if (format.Groups < 1 || format.Groups > Rows)
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(CodebookLayer)}: {format.Groups} groups for {Rows} rows (1..rows)");
        Format = format;
        ContainerBits = format.Packing == IndexPacking.Dense ? format.Bits : CodebookBits.ContainerBits(format.Bits);
        register_buffer("indices", zeros(IntPacking.PackedBytes(Rows * Columns, ContainerBits), ScalarType.Byte, device: device).DetachFromDisposeScope());
        register_buffer("codebooks", zeros([format.Variant == CodebookVariant.Codebooks ? format.Groups : 1, CodebookSize], ScalarType.Float16, device: device).DetachFromDisposeScope());
        if (format.Variant == CodebookVariant.Scales) register_buffer("scales", ones(format.Groups, ScalarType.Float16, device: device).DetachFromDisposeScope());
        if (format.Permuted) register_buffer("row_order", arange(Rows, Rows <= short.MaxValue ? ScalarType.Int16 : ScalarType.Int32, device: device).DetachFromDisposeScope());
        RegisterBias(device);
    }

    /// <summary>Builds the layer from indices [O, I] in stored row order (values in [0, K−1]), codebooks [1 or G, K],
    /// scales [G] (variant scales), an optional row order (original row j = stored row rowOrder[j]; makes the layer
    /// permuted) and an optional bias (original order). Values are rounded to fp16. The layer lives on the device of
    /// <paramref name="indices"/>.</summary>
    /// <exception cref="ArgumentException">Shapes or values that do not fit.</exception>
    public static CodebookLayer FromIndices(WeightGeometry geometry, int bits, long groups, CodebookVariant variant, Tensor indices, Tensor codebooks,
        Tensor? scales, Tensor? rowOrder, Tensor? bias)
    {
        var layer = new CodebookLayer(new CodebookFormat(bits, groups, variant, rowOrder is not null), geometry, indices.device);
        try
        {
            layer.SetState(indices, codebooks, scales, rowOrder, bias);
            return layer;
        }
        catch
        {
            layer.Dispose();
            throw;
        }
    }

    /// <summary>Bits, groups, variant and whether a row order is stored.</summary>
    public CodebookFormat Format { get; }

    /// <summary>b: bits per index (K = 2^b codewords).</summary>
    public int IndexBits => Format.Bits;

    /// <summary>Bits each index is stored in: b when packed densely; 2, 4 or 8 in containers.</summary>
    public int ContainerBits { get; }

    /// <summary>G: contiguous row groups.</summary>
    public long Groups => Format.Groups;

    /// <summary>One codebook with a scale per group, or a codebook per group.</summary>
    public CodebookVariant Variant => Format.Variant;

    /// <summary>Whether an explicit row permutation (<see cref="RowOrder"/>) is stored.</summary>
    public bool Permuted => Format.Permuted;

    /// <summary>K = 2^b.</summary>
    public long CodebookSize => 1L << Format.Bits;

    /// <summary>Packed indices (uint8).</summary>
    public Tensor PackedIndices => get_buffer("indices")!;

    /// <summary>Codebooks float16 [1 or G, K].</summary>
    public Tensor Codebooks => get_buffer("codebooks")!;

    /// <summary>Group scales float16 [G], or null for variant codebooks.</summary>
    public Tensor? Scales => Variant == CodebookVariant.Scales ? get_buffer("scales") : null;

    /// <summary>Original row j is stored row RowOrder[j]; null when not permuted.</summary>
    public Tensor? RowOrder => Permuted ? get_buffer("row_order") : null;

    /// <inheritdoc/>
    public override string Kind => Representation + "_" + Geometry.Id;

    /// <inheritdoc/>
    public override object Config => LayerConfigs.Create(Format, Geometry);

    /// <summary>Indices as int64 [O, I] in stored row order.</summary>
    public Tensor Indices() => IntPacking.Unpack(PackedIndices, Rows * Columns, ContainerBits, signed: false).reshape(Rows, Columns).to_type(ScalarType.Int64);

    /// <summary>The group of every stored row, int64 [O].</summary>
    public Tensor RowGroups() => arange(Rows, ScalarType.Int64, device: PackedIndices.device).mul(Groups).div(Rows, RoundingMode.floor);

    private void SetState(Tensor indices, Tensor codebooks, Tensor? scales, Tensor? rowOrder, Tensor? bias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        if (indices.dim() != 2 || indices.shape[0] != Rows || indices.shape[1] != Columns) throw new ArgumentException($"indices must be [{Rows}, {Columns}]");
        if (indices.numel() > 0 && (indices.min().item<long>() < 0 || indices.max().item<long>() >= CodebookSize))
            throw new ArgumentException($"indices outside [0, {CodebookSize - 1}]");
        if (!codebooks.shape.SequenceEqual(Codebooks.shape)) throw new ArgumentException($"codebooks must be [{string.Join(", ", Codebooks.shape)}]");
        PackedIndices.copy_(IntPacking.Pack(indices, ContainerBits, signed: false));
        Codebooks.copy_(codebooks.to_type(ScalarType.Float16));
        if (Variant == CodebookVariant.Scales)
        {
            if (scales is null || scales.numel() != Groups) throw new ArgumentException($"variant scales needs {Groups} scales");
            Scales!.copy_(scales.reshape(Groups).to_type(ScalarType.Float16));
        }
        if (Permuted)
        {
            if (rowOrder is null || rowOrder.numel() != Rows) throw new ArgumentException($"a permuted layer needs a row order of {Rows} entries");
            using var sorted = rowOrder.to_type(ScalarType.Int64).sort().Values;
            if (!sorted.eq(arange(Rows, ScalarType.Int64, device: sorted.device)).all().item<bool>()) throw new ArgumentException("the row order is not a permutation");
            RowOrder!.copy_(rowOrder.to_type(RowOrder.dtype));
        }
        SetBias(bias);
    }

    /// <summary>The dense matrix [O, I] in original row order: float(codeword) · float(group scale).</summary>
    public override Tensor DenseMatrix()
    {
        using var scope = NewDisposeScope();
        var idx = Indices();
        var groups = RowGroups();
        Tensor w;
        if (Variant == CodebookVariant.Scales)
        {
            var values = Codebooks.reshape(-1).take(idx).to_type(ScalarType.Float32);
            var rowScale = Scales!.take(groups).to_type(ScalarType.Float32).unsqueeze(1);
            w = values.mul(rowScale);
        }
        else
        {
            var flat = idx.add(groups.mul(CodebookSize).unsqueeze(1));
            w = Codebooks.reshape(-1).take(flat).to_type(ScalarType.Float32);
        }
        if (Permuted) w = w.index_select(0, RowOrder!.to_type(ScalarType.Int64));
        return w.MoveToOuterDisposeScope();
    }

    /// <summary>What the layer stores for its weight (checkpoint and ONNX alike): the packed index containers, the fp16
    /// codebooks and scales, and the row order at its stored width (16 bits per row up to 32,767 rows, else 32).
    /// Equals <see cref="AccountedBits"/> without a stored permutation (up to the padding of the last byte) when the
    /// indices are packed densely (and at 2, 4 and 8 bits in containers); in containers (config version 1) 3-bit
    /// indices take 4 bits; a stored permutation takes 16 bits per row instead of the paper's ⌈log2 O⌉.</summary>
    public override long WeightStorageBits =>
        IntPacking.PackedBytes(Rows * Columns, ContainerBits) * 8
        + CodebookBits.LayerBits(Rows, Columns, IndexBits, Groups, Variant == CodebookVariant.Codebooks, false) - IndexBits * Rows * Columns
        + (Permuted ? Rows * (Rows <= short.MaxValue ? 16 : 32) : 0);

    /// <summary>The paper's accounting (<see cref="CodebookBits.LayerBits"/>) at <see cref="IndexBits"/> bits per index.</summary>
    public long AccountedBits => CodebookBits.LayerBits(Rows, Columns, IndexBits, Groups, Variant == CodebookVariant.Codebooks, Permuted);
}
