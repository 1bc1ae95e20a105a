using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The gradient of the loss with respect to the latent continuous indices u ([RECON] README
/// "Mapping gradient"). With g = dL/dŴ and Δ the (weight-space) gap from the current codeword to its neighbour in the
/// direction the gradient pushes (down when g &gt; 0, up when g &lt; 0; at either end of the codebook the only
/// neighbour): default dL/du = g·Δ (an STE through the piecewise-linear codebook: big gaps get big pushes, toward the
/// tails); proximal dL/du = g/Δ (a weight crosses to the adjacent codeword once its accumulated weight-space step
/// passes the gap, as if it took a plain STE step in weight space).</summary>
public static class MappingGradient
{
    /// <summary>dL/du [O, I] from <paramref name="g"/> = dL/dŴ [O, I], the current indices <paramref name="k"/>
    /// [O, I] (int64) and each row's codewords in weight space [O, K] (sorted ascending).</summary>
    public static Tensor Compute(Tensor g, Tensor k, Tensor rowCodewords, MappingGradientKind kind)
    {
        using var scope = NewDisposeScope();
        long kk = rowCodewords.shape[1];
        var cw = rowCodewords.detach();
        if (kk < 2) return zeros_like(g).MoveToOuterDisposeScope();
        var current = cw.gather(1, k);
        var up = cw.gather(1, k.add(1).clamp_max(kk - 1)).sub(current);
        var down = current.sub(cw.gather(1, k.sub(1).clamp_min(0)));
        var atTop = k.eq(kk - 1);
        var atBottom = k.eq(0);
        var delta = where(g.lt(0), where(atTop, down, up), where(atBottom, up, down));
        // Equal neighbouring codewords (a collapsed cluster) would make g/Δ infinite: floor Δ at a tiny fraction of the range.
        double floor = Math.Max(1e-12, 1e-6 * cw.abs().max().item<float>());
        delta = delta.abs().clamp_min(floor);
        var result = kind == MappingGradientKind.Default ? g.mul(delta) : g.div(delta);
        return result.MoveToOuterDisposeScope();
    }
}
