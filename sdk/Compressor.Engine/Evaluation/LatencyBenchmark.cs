using System.Diagnostics;
using Compressor.Sdk.Diagnostics;
using static TorchSharp.torch;

namespace Compressor.Engine.Evaluation;

/// <summary>Times one batch on an ORT session: <see cref="OrtEvaluationOptions.WarmupRuns"/> untimed runs, then
/// <see cref="OrtEvaluationOptions.Runs"/> timed ones (the input is converted once, outside the timing); with a
/// reference, both interleaved (<see cref="MeasurePaired"/>).</summary>
internal static class LatencyBenchmark
{
    public static LatencyResult Measure(OrtModelRunner runner, Tensor batch, OrtEvaluationOptions options, CancellationToken cancellation,
        IProgressTask? progress = null)
    {
        using var value = runner.ToOrt(batch);
        for (int i = 0; i < options.WarmupRuns; i++) runner.RunRaw(value);
        var times = new double[options.Runs];
        for (int i = 0; i < options.Runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            times[i] = Time(runner, value);
            progress?.Advance(1, "latency");
        }
        return Result(times, options, batch);
    }

    /// <summary>Times a model and its reference in interleaved runs (after the warm-up runs of both): run <c>i</c> of
    /// each is taken back to back, the order alternating (model first in even runs, reference first in odd ones), so
    /// that load from elsewhere on the machine hits both alike and the per-run ratios
    /// (<see cref="LatencyResult.TimesMs"/>, same index) measure the speed-up with its spread.</summary>
    public static (LatencyResult Model, LatencyResult Reference) MeasurePaired(OrtModelRunner model, OrtModelRunner reference, Tensor batch,
        OrtEvaluationOptions options, CancellationToken cancellation, IProgressTask? progress = null)
    {
        using var a = model.ToOrt(batch);
        using var b = reference.ToOrt(batch);
        for (int i = 0; i < options.WarmupRuns; i++)
        {
            model.RunRaw(a);
            reference.RunRaw(b);
        }
        var tm = new double[options.Runs];
        var tr = new double[options.Runs];
        for (int i = 0; i < options.Runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            if (i % 2 == 0) { tm[i] = Time(model, a); tr[i] = Time(reference, b); }
            else { tr[i] = Time(reference, b); tm[i] = Time(model, a); }
            progress?.Advance(2, "latency");
        }
        return (Result(tm, options, batch), Result(tr, options, batch));
    }

    private static double Time(OrtModelRunner runner, OrtFeed value)
    {
        long start = Stopwatch.GetTimestamp();
        runner.RunRaw(value);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static LatencyResult Result(double[] times, OrtEvaluationOptions options, Tensor batch) =>
        new(Percentile(times, 0.5), Percentile(times, 0.9), options.Runs, options.WarmupRuns, (int)batch.shape[0], options.IntraOpThreads) { TimesMs = times };

    /// <summary>The nearest-rank percentile (the median of an even count is the mean of the middle two).</summary>
    public static double Percentile(double[] values, double q)
    {
        var s = values.Order().ToArray();
        if (q == 0.5 && s.Length % 2 == 0) return (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        int rank = (int)Math.Ceiling(q * s.Length);
        return s[Math.Clamp(rank - 1, 0, s.Length - 1)];
    }
}
