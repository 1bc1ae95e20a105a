using Compressor.Layers.Geometry;
using Compressor.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>BlockDense(r, B): y = lr · BD(W1) · x + b with W1 ∈ ℝ^{B×(r/B)×(N/B)} block-diagonal (blocks
/// concatenated in natural order, no shuffle) and a dense lr ∈ ℝ^{M×r}; weights r(N/B + M). Needs B to divide N and r.</summary>
public sealed class BlockDenseLinear : StructuredLinear
{
    /// <summary>Creates a layer with zero factors.</summary>
    public BlockDenseLinear(long inFeatures, long outFeatures, long rank, long blocks, bool hasBias) : this(inFeatures, outFeatures, rank, blocks, hasBias, null)
    {
    }

    /// <summary>A layer with zero factors on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal BlockDenseLinear(long inFeatures, long outFeatures, long rank, long blocks, bool hasBias, Device? device) : base(nameof(BlockDenseLinear), inFeatures, outFeatures, hasBias, device)
    {
        if (blocks < 1 || inFeatures % blocks != 0 || rank < blocks || rank % blocks != 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"block-dense: {blocks} blocks must divide N = {inFeatures} and the rank {rank}");
        Rank = rank;
        Blocks = blocks;
        W1 = NewParameter(device, blocks, rank / blocks, inFeatures / blocks);
        Lr = NewParameter(device, outFeatures, rank);
        register_parameter("w1", W1);
        register_parameter("lr", Lr);
    }

    /// <summary>Builds the layer from W1 [B, r/B, N/B], lr [M, r] and an optional bias [M], on the device of W1.</summary>
    public static BlockDenseLinear FromFactors(Tensor w1, Tensor lr, Tensor? bias)
    {
        long b = w1.shape[0];
        var layer = new BlockDenseLinear(b * w1.shape[2], lr.shape[0], lr.shape[1], b, bias is not null, w1.device);
        Assign(layer.W1, w1, "block-dense w1");
        Assign(layer.Lr, lr, "block-dense lr");
        layer.SetBias(bias);
        return layer;
    }

    /// <summary>The inner width r.</summary>
    public long Rank { get; }

    /// <summary>The number of diagonal blocks B.</summary>
    public long Blocks { get; }

    /// <summary>The block-diagonal stage [B, r/B, N/B].</summary>
    public TorchSharp.Modules.Parameter W1 { get; }

    /// <summary>The dense stage [M, r].</summary>
    public TorchSharp.Modules.Parameter Lr { get; }

    /// <inheritdoc/>
    public override string Kind => BlockDenseKind.KindId;

    /// <inheritdoc/>
    public override long StructuredParameterCount => Rank * (InFeatures / Blocks + OutFeatures);

    /// <inheritdoc/>
    public override object Config => new LayerConfig<BlockDenseFormat, LinearGeometry>(new(Rank, Blocks, PreMerged), Geometry);

    /// <inheritdoc/>
    public override Tensor ForwardStructured(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (flat, leading) = Flatten(x, InFeatures);
        long t = flat.shape[0], b = Blocks;
        var xs = flat.reshape(t, b, InFeatures / b).transpose(0, 1);   // [B, T, N/B]
        var z = bmm(xs, W1.transpose(1, 2)).transpose(0, 1).reshape(t, Rank);   // block c → entries c·r/B + a
        var y = nn.functional.linear(z, Lr).reshape([.. leading, OutFeatures]);
        return y.MoveToOuterDisposeScope();
    }
}
