using Compressor.Samples.RoundToNearest;
using Compressor.Layers.Packing;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>The round-to-nearest algorithm: per group of weights, a scale (and zero point) from the group's range,
/// optionally shrunk by the clipping factor that minimises the squared error; then q = clamp(round(w/s) + z).</summary>
public static class RoundToNearestQuantizer
{
    /// <summary>Candidate clipping factors searched with <see cref="RtnOptions.ClipSearch"/>: 1.00, 0.975, …, 0.50 (21; the
    /// squared error of a group is not unimodal in the factor, so the whole grid is tried). A grid of step 0.01 gained
    /// nothing material on MiniLM at 4 bits (cosine 0.9596, vs 0.9588 with this grid) at 2.5× the time; see bench/README.md.</summary>
    public static readonly double[] ClipFactors = Enumerable.Range(0, 21).Select(i => 1.0 - 0.025 * i).ToArray();

    /// <summary>The quantized form of a weight matrix [rows, cols].</summary>
    /// <param name="Codes">Integer codes [rows, cols] (int32).</param>
    /// <param name="Scales">Scales [rows, groups] (float32).</param>
    /// <param name="ZeroPoints">Zero points [rows, groups] (int32), or null when symmetric.</param>
    public sealed record Result(Tensor Codes, Tensor Scales, Tensor? ZeroPoints);

    /// <summary>Quantizes <paramref name="weight"/> [rows, cols].</summary>
    public static Result Quantize(Tensor weight, int bits, int groupSize, QuantScheme scheme, bool clipSearch)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to_type(ScalarType.Float32);
        long rows = w.shape[0], cols = w.shape[1];
        long g = GroupQuantization.EffectiveGroupSize(cols, groupSize), groups = GroupQuantization.GroupCount(cols, groupSize);
        // Zero-padding the last group leaves max|w| unchanged and, since the asymmetric range includes 0, min/max too.
        var padded = groups * g == cols ? w : nn.functional.pad(w, [0, groups * g - cols]);
        var wg = padded.reshape(rows, groups, g);
        bool signed = scheme == QuantScheme.Symmetric;
        var (qmin, qmax) = IntPacking.Range(bits, signed);

        Tensor bestScale = null!, bestZero = null!, bestErr = null!;
        foreach (double factor in clipSearch ? ClipFactors : [1.0])
        {
            using var candidate = NewDisposeScope();
            var (s, z) = Grid(wg, factor, signed, qmin, qmax);
            if (!clipSearch) { bestScale = s.MoveToOuterDisposeScope(); bestZero = z.MoveToOuterDisposeScope(); break; }
            var err = GroupError(wg, s, z, qmin, qmax);
            if (bestErr is null)
            {
                bestScale = s.MoveToOuterDisposeScope(); bestZero = z.MoveToOuterDisposeScope(); bestErr = err.MoveToOuterDisposeScope();
                continue;
            }
            var better = err.lt(bestErr);
            bestScale.copy_(where(better, s, bestScale));
            bestZero.copy_(where(better, z, bestZero));
            bestErr.copy_(where(better, err, bestErr));
        }
        var zeroPoints = signed ? null : bestZero.to_type(ScalarType.Int32);
        var codes = GroupQuantization.Quantize(w, bestScale, zeroPoints, bits, signed, groupSize);
        var result = new Result(codes.MoveToOuterDisposeScope(), bestScale.contiguous().MoveToOuterDisposeScope(), zeroPoints?.MoveToOuterDisposeScope());
        return result;
    }

    /// <summary>Scale and zero point per group [rows, groups] for a range shrunk by <paramref name="factor"/>.</summary>
    private static (Tensor Scale, Tensor Zero) Grid(Tensor wg, double factor, bool signed, int qmin, int qmax)
    {
        if (signed)
        {
            // The full signed range: the most negative weight may use code qmin = −2^(b−1), the most positive qmax =
            // 2^(b−1) − 1, so s = max(max(w)/qmax, min(w)/qmin): nothing is clipped and the step is never larger than
            // max|w|/qmax (the ±qmax grid that leaves qmin unused).
            var positive = wg.amax([-1L]).clamp_min(0).div(qmax);
            var negative = wg.amin([-1L]).clamp_max(0).div(qmin);
            var s = maximum(positive, negative).mul(factor);
            s = where(s.eq(0), ones_like(s), s);
            return (s, zeros_like(s));
        }
        var lo = wg.amin([-1L]).clamp_max(0).mul(factor);
        var hi = wg.amax([-1L]).clamp_min(0).mul(factor);
        var scale = hi.sub(lo).div(qmax - qmin);
        scale = where(scale.eq(0), ones_like(scale), scale);
        var zero = lo.div(scale).neg().round().clamp(qmin, qmax);
        return (scale, zero);
    }

    /// <summary>Sum of squared errors per group [rows, groups] of quantizing with (s, z).</summary>
    private static Tensor GroupError(Tensor wg, Tensor s, Tensor z, int qmin, int qmax)
    {
        var s3 = s.unsqueeze(-1);
        var z3 = z.unsqueeze(-1);
        var q = wg.div(s3).round().add(z3).clamp(qmin, qmax);
        var deq = q.sub(z3).mul(s3);
        return deq.sub(wg).square().sum([-1L]);
    }
}
