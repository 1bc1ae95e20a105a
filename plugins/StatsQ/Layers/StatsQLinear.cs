using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The shipped form of a QAT linear layer (kind <c>statsq_linear</c>): a <see cref="CodedLinear"/> — StatsQ
/// codes on the zero-less grid, or LSQ codes on the symmetric grid (the baseline, the 8-bit heads) — with its frozen
/// input quantizer when the layer quantized its input.</summary>
public sealed class StatsQLinear : CodedLinear, ICompressedLayer
{
    /// <summary>Creates an empty layer.</summary>
    public StatsQLinear(long inFeatures, long outFeatures, int bits, bool zeroLess, bool hasBias, FrozenActivationQuantizer? input, Device? device = null)
        : base(inFeatures, outFeatures, bits, zeroLess, hasBias, input, nameof(StatsQLinear), device) { }

    /// <inheritdoc/>
    public string Kind => StatsQLinearKind.KindId;

    /// <inheritdoc/>
    public object Config => LinearConfig;

    /// <inheritdoc/>
    public long[] DenseWeightShape => [OutFeatures, InFeatures];

    /// <inheritdoc/>
    public long WeightStorageBits => StorageBits;
}
