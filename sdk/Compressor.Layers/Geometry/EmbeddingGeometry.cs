using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Compressor.Layers.Geometry;

/// <summary>An embedding table [vocabulary, dim]: the output is the rows of the given int64 indices, [..., dim].</summary>
/// <param name="NumEmbeddings">Rows of the table (vocabulary).</param>
/// <param name="EmbeddingDim">Width of a row.</param>
public sealed record EmbeddingGeometry(long NumEmbeddings, long EmbeddingDim) : WeightGeometry
{
    /// <inheritdoc/>
    [JsonIgnore]
    public override string Id => "embedding";

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Rows => NumEmbeddings;

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Columns => EmbeddingDim;

    /// <inheritdoc/>
    [JsonIgnore]
    public override long[] DenseShape => [NumEmbeddings, EmbeddingDim];

    /// <inheritdoc/>
    [JsonIgnore]
    public override bool HasBias => false;

    /// <inheritdoc/>
    public override Tensor Apply(Tensor input, Tensor weight, Tensor? bias)
    {
        using var rows = weight.index_select(0, input.flatten().to_type(ScalarType.Int64));
        return rows.reshape([.. input.shape, EmbeddingDim]);
    }

    /// <summary>The geometry of <paramref name="embedding"/>.</summary>
    public static EmbeddingGeometry Of(TorchSharp.Modules.Embedding embedding)
    {
        // Embedding.weight wraps the native parameter in a new Tensor on every call: dispose the wrapper.
        using var weight = embedding.weight!;
        return new EmbeddingGeometry(weight.shape[0], weight.shape[1]);
    }
}
