using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>A linear layer whose weight [out, in] is a grouped codebook (see <see cref="CodebookLayer"/>).
/// Forward: x·Wᵀ + b with W materialised from indices, codebooks and scales.</summary>
public sealed class CodebookLinear : CodebookLayer
{
    /// <summary>The layer kind id.</summary>
    public const string KindId = "codebook_linear";

    /// <summary>Creates an empty layer (all indices 0); fill it with <see cref="FromIndices"/> or by loading tensors.</summary>
    public CodebookLinear(long inFeatures, long outFeatures, int indexBits, long groups, CodebookVariant variant, bool permuted, bool hasBias)
        : base(nameof(CodebookLinear), outFeatures, inFeatures, indexBits, groups, variant, permuted, hasBias) { }

    /// <summary>Builds the layer from indices [out, in] (stored row order), codebooks [1 or G, K], scales [G]
    /// (variant scales), an optional row order (original row j = stored row rowOrder[j]) and an optional bias
    /// (original order).</summary>
    public static CodebookLinear FromIndices(Tensor indices, int indexBits, long groups, CodebookVariant variant, Tensor codebooks, Tensor? scales,
        Tensor? rowOrder, Tensor? bias)
    {
        var layer = new CodebookLinear(indices.shape[1], indices.shape[0], indexBits, groups, variant, rowOrder is not null, bias is not null);
        layer.SetState(indices, codebooks, scales, rowOrder, bias);
        return layer;
    }

    /// <summary>Input features.</summary>
    public long InFeatures => Cols;

    /// <summary>Output features.</summary>
    public long OutFeatures => Rows;

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
            c["inFeatures"] = Cols;
            c["outFeatures"] = Rows;
            return c;
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var w = DenseMatrix();
        return nn.functional.linear(input, w, Bias);
    }

    /// <summary>Rebuilds <see cref="CodebookLinear"/> layers from manifest configs.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject c) => new CodebookLinear(Read(c, "inFeatures", 1), Read(c, "outFeatures", 1),
            (int)Read(c, "bits", 1), Read(c, "groups", 1), ReadVariant(c), ReadBool(c, "permuted"), ReadBool(c, "bias"));
    }
}
