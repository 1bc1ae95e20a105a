using Compressor.Sdk.Compression;
using Compressor.Sdk.Quantization;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>Shared state of layers whose weight [O, I] (a conv's [out, in/groups·kh·kw]) is a grouped codebook:
/// every weight is an index into a sorted codebook of K = 2^b fp16 codewords; the O rows are cut into G contiguous
/// groups (stored row r is in group ⌊r·G/O⌋) and each group either scales one shared codebook by its own fp16 scale
/// (<see cref="CodebookVariant.Scales"/>) or has its own codebook (<see cref="CodebookVariant.Codebooks"/>).
/// Buffers: <c>indices</c> (uint8, the indices packed flat in 2/4/8-bit containers, ONNX layout), <c>codebooks</c>
/// (float16 [1 or G, K]), <c>scales</c> (float16 [G]; variant scales only), <c>row_order</c> (int16/int32 [O], only
/// when the rows were re-ordered and the permutation could not be folded: original row j is stored row
/// row_order[j]) and <c>bias</c> (float32, original order). The dense weight is computed in float32 as
/// float(codeword) · float(scale), which the ONNX lowering reproduces bit for bit.</summary>
public abstract class CodebookLayer : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates the layer with zero-filled buffers of the right shapes.</summary>
    protected CodebookLayer(string name, long rows, long cols, int indexBits, long groups, CodebookVariant variant, bool permuted, bool hasBias) : base(name)
    {
        if (indexBits is < 1 or > 8)
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: {indexBits}-bit codebook indices are not supported (1..8)");
        if (rows <= 0 || cols <= 0 || groups < 1 || groups > rows)
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: invalid shape [{rows}, {cols}] or {groups} groups (1..rows)");
        Rows = rows; Cols = cols; IndexBits = indexBits; Groups = groups; Variant = variant; Permuted = permuted;
        ContainerBits = CodebookBits.ContainerBits(indexBits);
        long k = 1L << indexBits;
        register_buffer("indices", zeros(IntPacking.PackedBytes(rows * cols, ContainerBits), ScalarType.Byte).DetachFromDisposeScope());
        register_buffer("codebooks", zeros([variant == CodebookVariant.Codebooks ? groups : 1, k], ScalarType.Float16).DetachFromDisposeScope());
        if (variant == CodebookVariant.Scales) register_buffer("scales", ones(groups, ScalarType.Float16).DetachFromDisposeScope());
        if (permuted) register_buffer("row_order", arange(rows, rows <= short.MaxValue ? ScalarType.Int16 : ScalarType.Int32).DetachFromDisposeScope());
        if (hasBias) register_buffer("bias", zeros(rows).DetachFromDisposeScope());
    }

    /// <summary>O: rows of the weight matrix (output channels).</summary>
    public long Rows { get; }

    /// <summary>I: weights per row.</summary>
    public long Cols { get; }

    /// <summary>b: bits per index (K = 2^b codewords).</summary>
    public int IndexBits { get; }

    /// <summary>Bits of the container each index is stored in (2, 4 or 8).</summary>
    public int ContainerBits { get; }

    /// <summary>G: contiguous row groups.</summary>
    public long Groups { get; }

    /// <summary>One codebook with a scale per group, or a codebook per group.</summary>
    public CodebookVariant Variant { get; }

    /// <summary>Whether an explicit row permutation (<see cref="RowOrder"/>) is stored.</summary>
    public bool Permuted { get; }

    /// <summary>K = 2^b.</summary>
    public long CodebookSize => 1L << IndexBits;

    /// <summary>Packed indices (uint8).</summary>
    public Tensor PackedIndices => get_buffer("indices")!;

    /// <summary>Codebooks float16 [1 or G, K].</summary>
    public Tensor Codebooks => get_buffer("codebooks")!;

    /// <summary>Group scales float16 [G], or null for variant codebooks.</summary>
    public Tensor? Scales => Variant == CodebookVariant.Scales ? get_buffer("scales") : null;

    /// <summary>Original row j is stored row RowOrder[j]; null when not permuted.</summary>
    public Tensor? RowOrder => Permuted ? get_buffer("row_order") : null;

    /// <summary>The bias (float32, original row order), or null.</summary>
    public Tensor? Bias => get_buffer("bias");

    /// <summary>Indices as int64 [O, I] in stored row order.</summary>
    public Tensor Indices() => IntPacking.Unpack(PackedIndices, Rows * Cols, ContainerBits, signed: false).reshape(Rows, Cols).to_type(ScalarType.Int64);

    /// <summary>The group of every stored row, int64 [O].</summary>
    public Tensor RowGroups() => arange(Rows, ScalarType.Int64).mul(Groups).div(Rows, RoundingMode.floor);

    /// <summary>Fills the buffers. <paramref name="indices"/> [O, I] in stored order with values in [0, K−1];
    /// <paramref name="codebooks"/> [1 or G, K]; <paramref name="scales"/> [G] (variant scales); <paramref name="rowOrder"/>
    /// [O] (permuted layers); <paramref name="bias"/> [O] in original order. Values are rounded to fp16 here.</summary>
    protected void SetState(Tensor indices, Tensor codebooks, Tensor? scales, Tensor? rowOrder, Tensor? bias)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        if (indices.dim() != 2 || indices.shape[0] != Rows || indices.shape[1] != Cols) throw new ArgumentException($"indices must be [{Rows}, {Cols}]");
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
            if (!sorted.eq(arange(Rows, ScalarType.Int64)).all().item<bool>()) throw new ArgumentException("the row order is not a permutation");
            RowOrder!.copy_(rowOrder.to_type(RowOrder.dtype));
        }
        if (bias is not null) Bias!.copy_(bias);
    }

    /// <summary>The dense matrix [O, I] in original row order: float(codeword) · float(group scale).</summary>
    protected Tensor DenseMatrix()
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

    /// <summary>What the layer stores for its weight (checkpoint and ONNX alike): the packed index containers, the fp16
    /// codebooks and scales, and the row order at its stored width (16 bits per row up to 32,767 rows, else 32).
    /// Equals <see cref="AccountedBits"/> for 2-, 4- and 8-bit indices without a stored permutation (up to the
    /// padding of the last byte); 3-bit indices take 4-bit containers, and a stored permutation takes 16 bits per row
    /// instead of §2.2's ⌈log2 O⌉.</summary>
    public long WeightStorageBits =>
        IntPacking.PackedBytes(Rows * Cols, ContainerBits) * 8
        + CodebookBits.LayerBits(Rows, Cols, IndexBits, Groups, Variant == CodebookVariant.Codebooks, false) - IndexBits * Rows * Cols
        + (Permuted ? Rows * (Rows <= short.MaxValue ? 16 : 32) : 0);

    /// <summary>The ALGORITHMS.md §2.2 accounting at <see cref="IndexBits"/> bits per index.</summary>
    public long AccountedBits => CodebookBits.LayerBits(Rows, Cols, IndexBits, Groups, Variant == CodebookVariant.Codebooks, Permuted);

    /// <summary>The config fields common to both layer kinds.</summary>
    protected JObject CommonConfig() => new()
    {
        ["bits"] = IndexBits, ["groups"] = Groups, ["variant"] = Variant == CodebookVariant.Scales ? "scales" : "codebooks",
        ["permuted"] = Permuted, ["bias"] = Bias is not null,
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

    /// <summary>Reads the variant field, with a one-line error.</summary>
    protected static CodebookVariant ReadVariant(JObject c) => (string?)c["variant"] switch
    {
        "scales" => CodebookVariant.Scales,
        "codebooks" => CodebookVariant.Codebooks,
        _ => throw new CompressException(ErrorKind.InvalidInput, "compressed layer config: 'variant' missing or invalid (scales | codebooks)"),
    };

    /// <summary>Reads an integer array config field, with a one-line error.</summary>
    protected static long[] ReadArray(JObject c, string key, int length) =>
        c[key] is JArray a && a.Count == length && a.All(x => x.Type == JTokenType.Integer)
            ? a.Select(x => (long)x).ToArray()
            : throw new CompressException(ErrorKind.InvalidInput, $"compressed layer config: '{key}' missing or invalid");
}

/// <summary>How the row groups of a <see cref="CodebookLayer"/> share codewords.</summary>
public enum CodebookVariant
{
    /// <summary>One codebook for the layer, one fp16 scale per group: w = s_g · C[k].</summary>
    Scales,
    /// <summary>One codebook per group: w = C_g[k].</summary>
    Codebooks,
}
