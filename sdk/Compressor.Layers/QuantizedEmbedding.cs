using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>An embedding table [vocabulary, dim] stored as packed 2/4/8-bit integer codes with per-group scales along
/// each row (one group per row with group size 0; see <see cref="GroupQuantizedLayer"/>). Forward: the rows of the
/// given indices, dequantized, (q − z)·s. Only the looked-up rows are unpacked.</summary>
public sealed class QuantizedEmbedding : GroupQuantizedLayer
{
    /// <summary>The layer kind id.</summary>
    public const string KindId = "quantized_embedding";

    /// <summary>Creates an empty table (zero codes); fill it with <see cref="FromCodes"/> or by loading tensors.</summary>
    public QuantizedEmbedding(long numEmbeddings, long embeddingDim, int bits, int groupSize, bool symmetric)
        : base(nameof(QuantizedEmbedding), numEmbeddings, embeddingDim, bits, groupSize, symmetric, hasBias: false) { }

    /// <summary>Builds the table from integer codes [vocabulary, dim], scales [vocabulary, groups] and zero points
    /// [vocabulary, groups] (asymmetric only).</summary>
    public static QuantizedEmbedding FromCodes(Tensor codes, Tensor scales, Tensor? zeroPoints, int bits, int groupSize)
    {
        var layer = new QuantizedEmbedding(codes.shape[0], codes.shape[1], bits, groupSize, zeroPoints is null);
        layer.SetState(codes, scales, zeroPoints, null);
        return layer;
    }

    /// <summary>Rows of the table.</summary>
    public long NumEmbeddings => Rows;

    /// <summary>Width of a row.</summary>
    public long EmbeddingDim => Cols;

    /// <inheritdoc/>
    public override string Kind => KindId;

    /// <inheritdoc/>
    public override long[] DenseWeightShape => [Rows, Cols];

    /// <inheritdoc/>
    public override JObject Config
    {
        get
        {
            var c = CommonConfig();
            c["numEmbeddings"] = Rows;
            c["embeddingDim"] = Cols;
            return c;
        }
    }

    /// <summary>Looks up <paramref name="indices"/> (int64, any shape, each in [0, vocabulary)): [..., dim].</summary>
    public override Tensor forward(Tensor indices)
    {
        using var scope = NewDisposeScope();
        if (indices.numel() > 0 && (indices.min().item<long>() < 0 || indices.max().item<long>() >= Rows))
            throw new CompressException(ErrorKind.InvalidInput, $"{nameof(QuantizedEmbedding)}: index outside [0, {Rows})");
        var flat = indices.flatten().to_type(ScalarType.Int64);
        var rows = DenseRows(flat);
        return rows.reshape([.. indices.shape, Cols]).MoveToOuterDisposeScope();
    }

    /// <summary>The dequantized rows [n, dim] of the given row indices [n]. When a row's codes start on a byte
    /// boundary (dim·bits divisible by 8), only those rows are unpacked; otherwise the whole table is.</summary>
    private Tensor DenseRows(Tensor rowIndices)
    {
        using var scope = NewDisposeScope();
        var scales = Scales.index_select(0, rowIndices);
        Tensor codes;
        Tensor? zeros = ZeroPoints()?.index_select(0, rowIndices);
        if (Cols * Bits % 8 == 0)
        {
            long rowBytes = Cols * Bits / 8;
            var packedRows = PackedCodes.reshape(Rows, rowBytes).index_select(0, rowIndices);
            codes = Quantization.IntPacking.Unpack(packedRows, packedRows.shape[0] * Cols, Bits, Symmetric).reshape(-1, Cols);
        }
        else
        {
            codes = Codes().index_select(0, rowIndices);
        }
        return Quantization.GroupQuantization.Dequantize(codes, scales, zeros, GroupSize).MoveToOuterDisposeScope();
    }

    /// <summary>Rebuilds <see cref="QuantizedEmbedding"/> tables from manifest configs.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject c) => new QuantizedEmbedding(Read(c, "numEmbeddings", 1), Read(c, "embeddingDim", 1),
            (int)Read(c, "bits", 1), (int)Read(c, "groupSize"), ReadBool(c, "symmetric"));
    }
}
