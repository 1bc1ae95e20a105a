using System.Diagnostics;
using static TorchSharp.torch;

namespace Compressor.Engine.Evaluation;

/// <summary>Times one batch on an ORT session: <see cref="OrtEvaluationOptions.WarmupRuns"/> untimed runs, then
/// <see cref="OrtEvaluationOptions.Runs"/> timed ones (the input is converted once, outside the timing).</summary>
internal static class LatencyBenchmark
{
    public static LatencyResult Measure(OrtModelRunner runner, Tensor batch, OrtEvaluationOptions options, CancellationToken cancellation)
    {
        using var value = runner.ToOrt(batch);
        for (int i = 0; i < options.WarmupRuns; i++) runner.RunRaw(value);
        var times = new double[options.Runs];
        for (int i = 0; i < options.Runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            runner.RunRaw(value);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return new LatencyResult(Percentile(times, 0.5), Percentile(times, 0.9), options.Runs, options.WarmupRuns, (int)batch.shape[0], options.IntraOpThreads);
    }

    /// <summary>The nearest-rank percentile (the median of an even count is the mean of the middle two).</summary>
    public static double Percentile(double[] values, double q)
    {
        var s = values.Order().ToArray();
        if (q == 0.5 && s.Length % 2 == 0) return (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        int rank = (int)Math.Ceiling(q * s.Length);
        return s[Math.Clamp(rank - 1, 0, s.Length - 1)];
    }
}
