using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Compressed;

/// <summary>The shipped form of a QAT linear layer (kind <c>statsq_linear</c>): a <see cref="CodedLinear"/> — StatsQ
/// codes on the zero-less grid, or LSQ codes on the symmetric grid (the baseline, the 8-bit heads) — with its frozen
/// input quantizer when the layer quantized its input.</summary>
public sealed class StatsQLinear : CodedLinear, ICompressedLayer
{
    /// <summary>The layer kind id.</summary>
    public const string KindId = "statsq_linear";

    /// <summary>Creates an empty layer.</summary>
    public StatsQLinear(long inFeatures, long outFeatures, int bits, bool zeroLess, bool hasBias, FrozenActivationQuantizer? input)
        : base(inFeatures, outFeatures, bits, zeroLess, hasBias, input, nameof(StatsQLinear)) { }

    /// <inheritdoc/>
    public string Kind => KindId;

    /// <inheritdoc/>
    public JObject Config => LinearConfig;

    /// <inheritdoc/>
    public long[] DenseWeightShape => [OutFeatures, InFeatures];

    /// <inheritdoc/>
    public long WeightStorageBits => StorageBits;

    /// <summary>Rebuilds <see cref="StatsQLinear"/> layers from manifest configs.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject config)
        {
            var (i, o, bits, zl, bias, input) = ReadConfig(config, KindId);
            return new StatsQLinear(i, o, bits, zl, bias, input);
        }
    }
}
