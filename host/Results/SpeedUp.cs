using Compressor.Engine.Evaluation;

namespace Compressor.Host.Results;

/// <summary><c>evaluation.speedUp</c>: how much faster the model ran than the reference on ONNX Runtime, from the
/// interleaved timed runs of both (run <c>i</c> of each taken back to back): the per-run ratios reference ÷ model, their
/// median and interquartile range (above 1: faster; below 1: slower).</summary>
/// <param name="Median">Median of the per-run ratios.</param>
/// <param name="P25">Their 25th percentile (nearest rank).</param>
/// <param name="P75">Their 75th percentile (nearest rank).</param>
/// <param name="Runs">Pairs of timed runs.</param>
public sealed record SpeedUp(double Median, double P25, double P75, int Runs)
{
    /// <summary>The speed-up of <paramref name="model"/> over <paramref name="reference"/>, or null when they were not
    /// timed in pairs.</summary>
    public static SpeedUp? Of(LatencyResult model, LatencyResult? reference)
    {
        if (reference is null || model.TimesMs.Count == 0 || model.TimesMs.Count != reference.TimesMs.Count) return null;
        var ratios = model.TimesMs.Zip(reference.TimesMs, (m, r) => r / m).Where(double.IsFinite).ToArray();
        if (ratios.Length == 0) return null;
        return new SpeedUp(R(Percentile(ratios, 0.5)), R(Percentile(ratios, 0.25)), R(Percentile(ratios, 0.75)), ratios.Length);
    }

    /// <summary>"1.32× faster (IQR 1.21–1.40×, 20 interleaved runs)", or "… slower" with the inverse ratios.</summary>
    public string Describe()
    {
        static string X(double v) => v.ToString(v >= 10 ? "F0" : "F2", System.Globalization.CultureInfo.InvariantCulture);
        bool faster = Median >= 1;
        (double m, double lo, double hi) = faster ? (Median, P25, P75) : (1 / Median, 1 / P75, 1 / P25);
        return $"{X(m)}× {(faster ? "faster" : "slower")} (IQR {X(lo)}–{X(hi)}×, {Runs} interleaved runs)";
    }

    private static double R(double v) => Math.Round(v, 4);

    private static double Percentile(double[] values, double q)
    {
        var s = values.Order().ToArray();
        if (q == 0.5 && s.Length % 2 == 0) return (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return s[Math.Clamp((int)Math.Ceiling(q * s.Length) - 1, 0, s.Length - 1)];
    }
}
