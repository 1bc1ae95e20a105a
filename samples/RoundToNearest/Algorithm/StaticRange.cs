using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>The static uint8 grid of one layer input (README, "Calibration"): a range [lo, hi] that contains 0, then
/// s = (hi − lo)/255 and z = round(−lo/s) in 0…255 — the asymmetric grid of ONNX QuantizeLinear to uint8.</summary>
internal static class StaticRange
{
    /// <summary>Shrink factors tried by <see cref="CalibrationMethod.Mse"/>: 0.95^k for k = 0…59 (1 down to 0.046).</summary>
    public static readonly double[] MseFactors = Enumerable.Range(0, 60).Select(k => Math.Pow(0.95, k)).ToArray();

    /// <summary>The scale and zero point for <paramref name="observer"/>'s values.</summary>
    public static (float Scale, int ZeroPoint) Of(InputObserver observer, CalibrationMethod method, double percentile) =>
        Of(observer.Min, observer.Max, observer.Samples, method, percentile);

    /// <summary>The scale and zero point for the values <paramref name="observer"/> saw a layer write.</summary>
    public static (float Scale, int ZeroPoint) Of(OutputObserver observer, CalibrationMethod method, double percentile) =>
        Of(observer.Min, observer.Max, observer.Samples, method, percentile);

    private static (float Scale, int ZeroPoint) Of(float min, float max, Func<Tensor> samples, CalibrationMethod method, double percentile)
    {
        using var scope = NewDisposeScope();
        double lo = Math.Min(0, min), hi = Math.Max(0, max);
        if (method == CalibrationMethod.Percentile)
        {
            var sorted = samples().sort().Values;
            long n = sorted.numel();
            double At(double q) => sorted[(long)Math.Clamp(Math.Round(q * (n - 1)), 0, n - 1)].item<float>();
            lo = Math.Min(0, At(1 - percentile / 100));
            hi = Math.Max(0, At(percentile / 100));
        }
        else if (method == CalibrationMethod.Mse)
        {
            var x = samples();
            double best = double.PositiveInfinity, bestFactor = 1;
            foreach (double f in MseFactors)
            {
                var (s, z) = Grid(lo * f, hi * f);
                using var q = x.div(s).round().add(z).clamp(0, 255).sub(z).mul(s);
                double err = q.sub(x).square().mean().item<float>();
                if (err < best) { best = err; bestFactor = f; }
            }
            lo *= bestFactor; hi *= bestFactor;
        }
        return Grid(lo, hi);
    }

    /// <summary>s = (hi − lo)/255 (1 for an empty range), z = round(−lo/s) clamped to 0…255.</summary>
    public static (float Scale, int ZeroPoint) Grid(double lo, double hi)
    {
        float s = (float)((hi - lo) / 255);
        if (!(s > 0)) s = 1;
        int z = (int)Math.Clamp(Math.Round(-lo / s, MidpointRounding.ToEven), 0, 255);
        return (s, z);
    }
}
