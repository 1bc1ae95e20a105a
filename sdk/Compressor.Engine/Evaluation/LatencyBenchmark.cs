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

    /// <summary>Times <paramref name="model"/> and <paramref name="reference"/> interleaved (warm-up runs of both, then
    /// model, reference, model, reference, …): each one's latency and the per-pair speed-up.</summary>
    public static (LatencyResult Model, LatencyResult Reference, SpeedUp SpeedUp) MeasurePair(OrtModelRunner model, OrtModelRunner reference, Tensor batch,
        OrtEvaluationOptions options, CancellationToken cancellation)
    {
        using var value = model.ToOrt(batch);
        using var referenceValue = reference.ToOrt(batch);
        for (int i = 0; i < options.WarmupRuns; i++)
        {
            model.RunRaw(value);
            reference.RunRaw(referenceValue);
        }
        var times = new double[options.Runs];
        var referenceTimes = new double[options.Runs];
        var ratios = new double[options.Runs];
        for (int i = 0; i < options.Runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            model.RunRaw(value);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            start = Stopwatch.GetTimestamp();
            reference.RunRaw(referenceValue);
            referenceTimes[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            ratios[i] = referenceTimes[i] / times[i];
        }
        int n = (int)batch.shape[0];
        return (new LatencyResult(Percentile(times, 0.5), Percentile(times, 0.9), options.Runs, options.WarmupRuns, n, options.IntraOpThreads),
            new LatencyResult(Percentile(referenceTimes, 0.5), Percentile(referenceTimes, 0.9), options.Runs, options.WarmupRuns, n, options.IntraOpThreads),
            new SpeedUp(Percentile(ratios, 0.5), Percentile(ratios, 0.1), Percentile(ratios, 0.9), options.Runs));
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
