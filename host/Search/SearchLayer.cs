namespace Compressor.Host.Search;

/// <summary>A layer the search allocates a treatment to.</summary>
/// <param name="Name">Its fully qualified name (what <c>include</c> selects).</param>
/// <param name="Type">linear or conv2d.</param>
/// <param name="Shape">Its dense weight's shape.</param>
/// <param name="Weights">Weights in its dense weight (biases left out).</param>
public sealed record SearchLayer(string Name, string Type, long[] Shape, long Weights)
{
    /// <summary>Storage bits of the weight in float32.</summary>
    public long Fp32Bits => Weights * 32;
}
