using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Compressor.Layers.Geometry;

/// <summary>A fully connected layer, y = x·Wᵀ + b, W of shape [out, in].</summary>
/// <param name="InFeatures">Input features (columns).</param>
/// <param name="OutFeatures">Output features (rows).</param>
/// <param name="Bias">Whether the layer adds a bias.</param>
public sealed record LinearGeometry(long InFeatures, long OutFeatures, bool Bias) : WeightGeometry
{
    /// <inheritdoc/>
    [JsonIgnore]
    public override string Id => "linear";

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Rows => OutFeatures;

    /// <inheritdoc/>
    [JsonIgnore]
    public override long Columns => InFeatures;

    /// <inheritdoc/>
    [JsonIgnore]
    public override long[] DenseShape => [OutFeatures, InFeatures];

    /// <inheritdoc/>
    [JsonIgnore]
    public override bool HasBias => Bias;

    /// <inheritdoc/>
    public override Tensor Apply(Tensor input, Tensor weight, Tensor? bias) => nn.functional.linear(input, weight, bias);

    /// <summary>The geometry of <paramref name="linear"/>.</summary>
    public static LinearGeometry Of(TorchSharp.Modules.Linear linear) => new(linear.in_features, linear.out_features, linear.bias is not null);
}
