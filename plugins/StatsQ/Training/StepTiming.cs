using System.Diagnostics;
using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Training;

/// <summary>Measures the cost of one training step of a model alone (forward, cross-entropy, backward; no optimizer
/// step, no teacher, no code tracking), so that the FP model and its QAT rewrite compare like for like. Gradients are
/// cleared afterwards and no weight changes.</summary>
public static class StepTiming
{
    /// <summary>Steps timed after <see cref="Warmup"/> untimed ones.</summary>
    public const int Steps = 8;

    /// <summary>Untimed warm-up steps.</summary>
    public const int Warmup = 2;

    /// <summary>Median seconds of one step on the first batches of <paramref name="data"/>.</summary>
    public static double Measure(CompressibleModel model, IDataSet data, int batchSize, Device device)
    {
        var times = new List<double>();
        var parameters = model.Module.parameters().Where(p => p.requires_grad).ToList();
        int i = 0;
        foreach (var batch in data.Batches(batchSize).Take(Steps + Warmup))
        {
            using var b = batch;
            using var scope = NewDisposeScope();
            var x = b.Input.to(device);
            var y = b.Target!.to(device);
            var clock = Stopwatch.StartNew();
            var loss = nn.functional.cross_entropy(model.Forward(x), y);
            loss.backward();
            if (i++ >= Warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        using (var scope = NewDisposeScope())
            foreach (var p in parameters) p.grad?.zero_();
        if (times.Count == 0) return 0;
        times.Sort();
        return times[times.Count / 2];
    }
}
