using Compressor.Layers.Geometry;
using Compressor.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>BlockShuffle(B), the Monarch-like form of StructuredFFN: y = P_out · BD(W2) · P_mid · BD(W1) · x + b.
/// With q = min(N, M)/B: W1 ∈ ℝ^{B×q×(N/B)} (block c maps input entries c·N/B … to z entries c·q + a) and
/// W2 ∈ ℝ^{B×(M/B)×q}; stage-2 block j reads the z entries i·B + j (i = 0 … q−1, a stride-B "perfect shuffle"),
/// and row t of stage-2 block j is written to output t·B + j (interleaved output order). Weights q(N + M) =
/// min(N, M)(N + M)/B. Needs B to divide N, M and min(N, M).</summary>
public sealed class BlockShuffleLinear : StructuredLinear
{
    /// <summary>Creates a layer with zero blocks.</summary>
    public BlockShuffleLinear(long inFeatures, long outFeatures, long blocks, bool hasBias) : this(inFeatures, outFeatures, blocks, hasBias, null)
    {
    }

    /// <summary>A layer with zero blocks on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal BlockShuffleLinear(long inFeatures, long outFeatures, long blocks, bool hasBias, Device? device) : base(nameof(BlockShuffleLinear), inFeatures, outFeatures, hasBias, device)
    {
        if (blocks < 1 || inFeatures % blocks != 0 || outFeatures % blocks != 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"block-shuffle: {blocks} blocks must divide both N = {inFeatures} and M = {outFeatures}");
        Blocks = blocks;
        Inner = Math.Min(inFeatures, outFeatures) / blocks;
        W1 = NewParameter(device, blocks, Inner, inFeatures / blocks);
        W2 = NewParameter(device, blocks, outFeatures / blocks, Inner);
        register_parameter("w1", W1);
        register_parameter("w2", W2);
    }

    /// <summary>Builds the layer from its blocks W1 [B, q, N/B], W2 [B, M/B, q] and an optional bias [M], on the device of W1.</summary>
    public static BlockShuffleLinear FromBlocks(Tensor w1, Tensor w2, Tensor? bias)
    {
        long b = w1.shape[0];
        var layer = new BlockShuffleLinear(b * w1.shape[2], b * w2.shape[1], b, bias is not null, w1.device);
        Assign(layer.W1, w1, "block-shuffle w1");
        Assign(layer.W2, w2, "block-shuffle w2");
        layer.SetBias(bias);
        return layer;
    }

    /// <summary>The number of blocks B of each stage.</summary>
    public long Blocks { get; }

    /// <summary>q = min(N, M)/B: rows of each stage-1 block, columns of each stage-2 block.</summary>
    public long Inner { get; }

    /// <summary>Stage-1 blocks [B, q, N/B].</summary>
    public TorchSharp.Modules.Parameter W1 { get; }

    /// <summary>Stage-2 blocks [B, M/B, q].</summary>
    public TorchSharp.Modules.Parameter W2 { get; }

    /// <inheritdoc/>
    public override string Kind => BlockShuffleKind.KindId;

    /// <inheritdoc/>
    public override long StructuredParameterCount => Inner * (InFeatures + OutFeatures);

    /// <inheritdoc/>
    public override object Config => new LayerConfig<BlockShuffleFormat, LinearGeometry>(new(Blocks, PreMerged), Geometry);

    /// <inheritdoc/>
    public override Tensor ForwardStructured(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (flat, leading) = Flatten(x, InFeatures);
        long t = flat.shape[0], b = Blocks;
        var xs = flat.reshape(t, b, InFeatures / b).transpose(0, 1);              // [B, T, N/B]
        var z = bmm(xs, W1.transpose(1, 2));                                        // [B, T, q]: z[c, ·, a] = entry c·q + a
        var shuffled = z.transpose(0, 1).reshape(t, Inner, b).permute(2, 0, 1);    // [B, T, q]: block j gets entries i·B + j
        var o = bmm(shuffled, W2.transpose(1, 2));                                  // [B, T, M/B]
        var y = o.permute(1, 2, 0).reshape([.. leading, OutFeatures]);              // row t of block j → output t·B + j
        return y.MoveToOuterDisposeScope();
    }
}
