using Compressor.Layers.Geometry;
using Compressor.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>LowRank(r): y = lr2 (lr1 x) + b with lr1 ∈ ℝ^{r×N}, lr2 ∈ ℝ^{M×r}; r(N + M) weights.</summary>
public sealed class LowRankLinear : StructuredLinear
{
    /// <summary>Creates a layer with zero factors.</summary>
    public LowRankLinear(long inFeatures, long outFeatures, long rank, bool hasBias) : this(inFeatures, outFeatures, rank, hasBias, null)
    {
    }

    /// <summary>A layer with zero factors on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal LowRankLinear(long inFeatures, long outFeatures, long rank, bool hasBias, Device? device) : base(nameof(LowRankLinear), inFeatures, outFeatures, hasBias, device)
    {
        if (rank < 1 || rank > Math.Min(inFeatures, outFeatures))
            throw new CompressException(ErrorKind.InvalidOptions, $"low-rank: rank {rank} must lie in 1..min(N, M) = {Math.Min(inFeatures, outFeatures)}");
        Rank = rank;
        Lr1 = NewParameter(device, rank, inFeatures);
        Lr2 = NewParameter(device, outFeatures, rank);
        register_parameter("lr1", Lr1);
        register_parameter("lr2", Lr2);
    }

    /// <summary>Builds the layer from its factors lr1 [r, N], lr2 [M, r] and an optional bias [M], on the device of lr1.</summary>
    public static LowRankLinear FromFactors(Tensor lr1, Tensor lr2, Tensor? bias)
    {
        var layer = new LowRankLinear(lr1.shape[1], lr2.shape[0], lr1.shape[0], bias is not null, lr1.device);
        Assign(layer.Lr1, lr1, "low-rank lr1");
        Assign(layer.Lr2, lr2, "low-rank lr2");
        layer.SetBias(bias);
        return layer;
    }

    /// <summary>The rank r.</summary>
    public long Rank { get; }

    /// <summary>The first factor [r, N].</summary>
    public TorchSharp.Modules.Parameter Lr1 { get; }

    /// <summary>The second factor [M, r].</summary>
    public TorchSharp.Modules.Parameter Lr2 { get; }

    /// <inheritdoc/>
    public override string Kind => LowRankKind.KindId;

    /// <inheritdoc/>
    public override long StructuredParameterCount => Rank * (InFeatures + OutFeatures);

    /// <inheritdoc/>
    public override object Config => new LayerConfig<LowRankFormat, LinearGeometry>(new(Rank, PreMerged), Geometry);

    /// <inheritdoc/>
    public override Tensor ForwardStructured(Tensor x)
    {
        using var h = nn.functional.linear(x, Lr1);
        return nn.functional.linear(h, Lr2);
    }
}
