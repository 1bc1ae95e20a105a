using System.Diagnostics;
using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Measures the cost of one training step of a model alone (forward, cross-entropy, backward; no optimizer
/// step, no teacher, no code tracking), so that the FP model and its QAT rewrite compare like for like. Gradients are
/// cleared afterwards and no weight changes.</summary>
public static class StepTiming
{
    /// <summary>Steps timed after <see cref="Warmup"/> untimed ones.</summary>
    public const int Steps = 8;

    /// <summary>Untimed warm-up steps.</summary>
    public const int Warmup = 2;

    /// <summary>Median seconds of one step of <paramref name="fp"/> and of <paramref name="qat"/>, timed in alternation on
    /// the same batches (FP, QAT, FP, QAT, …) so that a change of machine load during the measurement hits both alike.
    /// <paramref name="fp"/>'s parameters take gradients for the measurement (a frozen teacher would skip the weight
    /// gradients and look cheaper) and are restored to their previous state.</summary>
    public static (double Fp, double Qat) MeasurePair(CompressibleModel fp, CompressibleModel qat, IDataSet data, int batchSize, Device device)
    {
        var fpParams = fp.Module.parameters().ToList();
        var frozen = fpParams.Select(p => !p.requires_grad).ToList();
        foreach (var p in fpParams) p.requires_grad = true;
        bool fpTraining = fp.Module.training;
        fp.Module.train();
        try
        {
            var fpTimes = new List<double>();
            var qatTimes = new List<double>();
            int i = 0;
            foreach (var batch in data.Batches(batchSize).Take(Steps + Warmup))
            {
                using var b = batch;
                bool timed = i++ >= Warmup;
                double f = TimeOne(fp, b, device), q = TimeOne(qat, b, device);
                if (timed) { fpTimes.Add(f); qatTimes.Add(q); }
            }
            ClearGradients(fp);
            ClearGradients(qat);
            return (Median(fpTimes), Median(qatTimes));
        }
        finally
        {
            for (int k = 0; k < fpParams.Count; k++) fpParams[k].requires_grad = !frozen[k];
            fp.Module.train(fpTraining);
        }
    }

    private static double TimeOne(CompressibleModel model, DataBatch b, Device device)
    {
        using var scope = NewDisposeScope();
        var x = b.Input.to(device);
        var y = b.Target!.to(device);
        var clock = Stopwatch.StartNew();
        var loss = nn.functional.cross_entropy(model.Forward(x), y);
        loss.backward();
        return clock.Elapsed.TotalSeconds;
    }

    private static void ClearGradients(CompressibleModel model)
    {
        using var scope = NewDisposeScope();
        foreach (var p in model.Module.parameters()) p.grad?.zero_();
    }

    private static double Median(List<double> times)
    {
        if (times.Count == 0) return 0;
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Median seconds of one step on the first batches of <paramref name="data"/>.</summary>
    public static double Measure(CompressibleModel model, IDataSet data, int batchSize, Device device)
    {
        var times = new List<double>();
        int i = 0;
        foreach (var batch in data.Batches(batchSize).Take(Steps + Warmup))
        {
            using var b = batch;
            double t = TimeOne(model, b, device);
            if (i++ >= Warmup) times.Add(t);
        }
        ClearGradients(model);
        return Median(times);
    }
}
