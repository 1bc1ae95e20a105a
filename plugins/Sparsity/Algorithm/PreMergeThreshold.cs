using System.Diagnostics;
using Compressor.Layers.Structured;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The pre-merge decision (README "Pre-merge"): a structured product has no nonlinearity, so its dense
/// matrix can be materialised; for few tokens per call one dense MatMul beats the two structured stages. The
/// break-even token count of a layer is measured here: the smallest count in 1, 2, 4, … 4096 from which the
/// structured forward is faster than the dense one (median of several timed runs, on this machine's CPU with
/// TorchSharp). A layer is pre-merged when the deployment's tokens per call are below its break-even count.</summary>
public static class PreMergeThreshold
{
    /// <summary>Largest token count measured; a layer never faster structured up to it gets this + 1.</summary>
    public const int MaxTokens = 4096;

    /// <summary>The measured break-even token count of <paramref name="layer"/>.</summary>
    public static int Measure(StructuredLinear layer, int repeats = 5)
    {
        // The deployment runs on the CPU (ONNX Runtime), so the layer is timed there whatever device the run uses (on a
        // GPU it moves to the CPU for the measurement and back).
        var device = layer.parameters().First().device;
        if (device.type != TorchSharp.DeviceType.CPU) layer.to(CPU);
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var dense = layer.DenseWeight();
            for (int t = 1; t <= MaxTokens; t *= 2)
            {
                var x = randn(t, layer.InFeatures, device: CPU);
                double structured = Median(repeats, () => layer.ForwardStructured(x).Dispose());
                double merged = Median(repeats, () => nn.functional.linear(x, dense).Dispose());
                if (structured < merged) return t;
            }
            return MaxTokens + 1;
        }
        finally
        {
            if (device.type != TorchSharp.DeviceType.CPU) layer.to(device);
        }
    }

    private static double Median(int repeats, Action run)
    {
        run();   // warm-up
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
