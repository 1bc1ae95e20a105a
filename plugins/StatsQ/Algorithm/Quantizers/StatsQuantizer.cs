using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Quantizers;

/// <summary>StatsQ (OFQ, Liu et al. 2023; README "StatsQ weight quantizer"): per output row r, the scale s_r = 2·mean_j
/// |W[r, j]| is recomputed from the current weight at every forward and never learned; u = clamp(W/s, −1, 1 − 1e−6);
/// with n = 2^(b−1) the integer code is k = round(u·n − 0.5) ∈ {−n, …, n−1} and the value s·(k + 0.5)/n — a symmetric
/// grid without a zero level. The gradient is the identity straight-through estimator for every entry, clipped ones
/// included.</summary>
public static class StatsQuantizer
{
    /// <summary>The clip value: s = <see cref="ClipFactor"/>·mean|w| (fixed in the reference code).</summary>
    public const double ClipFactor = 2.0;

    /// <summary>The upper clamp bound 1 − 1e−6 keeps u·n − 0.5 below n − 0.5 so that the top code is n − 1.</summary>
    public const double UpperClamp = 1 - 1e-6;

    /// <summary>The per-row scale s = 2·mean|W| (detached), shape [rows, 1] (rows = all dims but the last).</summary>
    public static Tensor Scale(Tensor weight)
    {
        using var abs = weight.detach().abs();
        return abs.mean([-1L], keepdim: true).mul_(ClipFactor);
    }

    /// <summary>Integer codes k ∈ {−n, …, n−1} (int64) of <paramref name="weight"/> at <paramref name="bits"/> bits.</summary>
    public static Tensor Codes(Tensor weight, int bits)
    {
        using var scope = NewDisposeScope();
        int n = 1 << (bits - 1);
        var u = weight.detach().div(Scale(weight)).clamp(-1.0, UpperClamp);
        return u.mul(n).sub(0.5).round().to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>The pre-rounding value v = clamp(W/s, −1, 1 − 1e−6)·n − 0.5; decision thresholds sit at v = i + 0.5.</summary>
    public static Tensor PreRounding(Tensor weight, int bits)
    {
        using var scope = NewDisposeScope();
        int n = 1 << (bits - 1);
        return weight.detach().div(Scale(weight)).clamp(-1.0, UpperClamp).mul(n).sub(0.5).MoveToOuterDisposeScope();
    }

    /// <summary>The quantized weight with the identity straight-through gradient (forward value exactly Wq).</summary>
    public static Tensor Quantize(Tensor weight, int bits)
    {
        using var scope = NewDisposeScope();
        int n = 1 << (bits - 1);
        var s = Scale(weight);
        var k = weight.detach().div(s).clamp(-1.0, UpperClamp).mul(n).sub(0.5).round();
        var wq = s.mul(k.add(0.5)).div(n);
        // Identity STE written so that the forward value is exactly Wq: W − W.detach() is exactly 0 in floating point,
        // and its gradient with respect to W is 1 (the reference's Wq − W.detach() + W rounds to a nearby float).
        var result = wq.add(weight.sub(weight.detach()));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The dequantized value of codes <paramref name="codes"/> with row scales <paramref name="scale"/> [rows, 1].</summary>
    public static Tensor Dequantize(Tensor codes, Tensor scale, int bits)
    {
        int n = 1 << (bits - 1);
        using var k = codes.to_type(scale.dtype).add(0.5);
        return k.mul(scale).div_(n);
    }
}
