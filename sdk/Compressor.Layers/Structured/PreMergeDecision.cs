using System.Collections.Concurrent;
using System.Diagnostics;
using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>The pre-merge decision of a structured layer (StructuredFFN §3.4): its product has no nonlinearity, so the
/// dense matrix can be materialised, and for few tokens per call one dense MatMul beats the structured stages. The
/// break-even token count of a layer shape is measured: the smallest count in 1, 2, 4, … 4096 from which the
/// structured forward is faster than the dense product (median of several timed runs after a warm-up, TorchSharp on
/// this machine's CPU; 4097 when it never is). A layer is exported merged when the deployment's tokens per call are
/// below its break-even count. Measurements are kept for the process's lifetime, one per (kind, sizes), so the
/// lowerings and the report of one export see the same numbers.</summary>
public static class PreMergeDecision
{
    /// <summary>Largest token count measured; a layer never faster structured up to it gets this + 1.</summary>
    public const int MaxTokens = 4096;

    private static readonly ConcurrentDictionary<(string Kind, long In, long Out, long Structured), int> Measured = new();

    /// <summary>The break-even token count of <paramref name="layer"/>'s kind and sizes, measured once per process.</summary>
    public static int BreakEvenTokens(StructuredLinear layer) =>
        Measured.GetOrAdd((layer.Kind, layer.InFeatures, layer.OutFeatures, layer.StructuredParameterCount), _ => Measure(layer));

    /// <summary>Whether <paramref name="layer"/> is written as its dense product: at
    /// <see cref="ILoweringContext.DeployTokens"/> &gt; 0, when those tokens are below the measured break-even; at 0
    /// (not given), as the checkpoint says (<see cref="StructuredLinear.PreMerged"/>).</summary>
    public static bool Merged(StructuredLinear layer, int deployTokens) =>
        deployTokens > 0 ? deployTokens < BreakEvenTokens(layer) : layer.PreMerged;

    /// <summary>Measures the break-even token count of <paramref name="layer"/> (not cached).</summary>
    public static int Measure(StructuredLinear layer, int repeats = 5)
    {
        // The deployment runs on the CPU (ONNX Runtime), so the layer is timed there whatever device the run uses (on a
        // GPU it moves to the CPU for the measurement and back).
        var device = layer.parameters().First().device;
        if (device.type != DeviceType.CPU) layer.to(CPU);
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
            if (device.type != DeviceType.CPU) layer.to(device);
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
