using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>The uniform grid of one group of columns for every row (README "The grid"), as GPTQ's reference quantizer
/// places it: xmin = min(min(w), 0), xmax = max(max(w), 0); symmetric: xmax = max(|xmin|, xmax) and xmin = −xmax where
/// xmin &lt; 0; a row of zeros gets [−1, 1]; scale = (xmax − xmin)/(2^b − 1); zero = 2^(b−1) (symmetric) or
/// round(−xmin/scale). Codes q = clamp(round(w/scale) + zero, 0, 2^b − 1), values scale·(q − zero).</summary>
/// <param name="Scale">Scale per row [rows] (float32).</param>
/// <param name="Zero">Zero point per row [rows] (float32 holding integers, in the unsigned code domain).</param>
/// <param name="MaxCode">2^b − 1.</param>
public sealed record MinMaxGrid(Tensor Scale, Tensor Zero, int MaxCode) : IDisposable
{
    /// <summary>The grid of <paramref name="w"/> [rows, cols] (any column slice).</summary>
    public static MinMaxGrid Fit(Tensor w, int bits, bool symmetric)
    {
        using var scope = NewDisposeScope();
        int maxq = (1 << bits) - 1;
        var zero = zeros(w.shape[0], dtype: w.dtype, device: w.device);
        var xmin = minimum(w.amin([1]), zero);
        var xmax = maximum(w.amax([1]), zero);
        if (symmetric)
        {
            xmax = maximum(xmin.abs(), xmax);
            xmin = where(xmin.lt(0), xmax.neg(), xmin);
        }
        var dead = xmin.eq(0).logical_and(xmax.eq(0));
        xmin = where(dead, full_like(xmin, -1), xmin);
        xmax = where(dead, full_like(xmax, 1), xmax);
        var scale = xmax.sub(xmin).div(maxq);
        var z = symmetric ? full_like(scale, (maxq + 1) / 2) : xmin.neg().div(scale).round();
        return new MinMaxGrid(scale.MoveToOuterDisposeScope(), z.MoveToOuterDisposeScope(), maxq);
    }

    /// <summary>Unsigned codes of <paramref name="w"/> [rows] or [rows, n] on this grid (float32 holding integers).</summary>
    public Tensor Codes(Tensor w)
    {
        using var scope = NewDisposeScope();
        var s = w.dim() == 1 ? Scale : Scale.unsqueeze(1);
        var z = w.dim() == 1 ? Zero : Zero.unsqueeze(1);
        return w.div(s).round().add(z).clamp(0, MaxCode).MoveToOuterDisposeScope();
    }

    /// <summary>The values scale·(q − zero) of unsigned codes <paramref name="codes"/> [rows] or [rows, n].</summary>
    public Tensor Values(Tensor codes)
    {
        using var scope = NewDisposeScope();
        var s = codes.dim() == 1 ? Scale : Scale.unsqueeze(1);
        var z = codes.dim() == 1 ? Zero : Zero.unsqueeze(1);
        return codes.sub(z).mul(s).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Scale.Dispose();
        Zero.Dispose();
    }
}
