using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Engine.Evaluation;
using Compressor.Sdk.Data;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace OrtLatency;

/// <summary>The int8 benchmark (issue 18): one ONNX Runtime session per variant and one for FP32, timed interleaved
/// (FP32, variant, FP32, variant, …) on the same feeds after warm-up, so that each pair gives one speed-up ratio under
/// the same machine load; the kernels each compressed layer ran on, read back from ORT's optimised graph; bytes on
/// disk; and quality against FP32 (computed by the caller).</summary>
internal static class Int8Bench
{
    public static int Threads { get; set; } = 2;

    public sealed record Timing(double Median, double P90, double SpeedUp, double SpeedUpP10, double SpeedUpP90, double Fp32Median);

    public static SessionOptions Options(string? optimizedPath = null)
    {
        var o = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Threads, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        if (optimizedPath is not null) o.OptimizedModelFilePath = optimizedPath;
        return o;
    }

    /// <summary>Times <paramref name="variant"/> against <paramref name="fp32"/> interleaved.</summary>
    public static Timing Time(string fp32, string variant, IReadOnlyList<NamedOnnxValue> feeds, int runs, int warmup = 5)
    {
        using var so1 = Options();
        using var so2 = Options();
        using var a = new InferenceSession(fp32, so1);
        using var b = new InferenceSession(variant, so2);
        for (int i = 0; i < warmup; i++) { using (a.Run(feeds)) { } using (b.Run(feeds)) { } }
        var ta = new double[runs];
        var tb = new double[runs];
        var ratio = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long s = Stopwatch.GetTimestamp();
            using (a.Run(feeds)) { }
            ta[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
            s = Stopwatch.GetTimestamp();
            using (b.Run(feeds)) { }
            tb[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
            ratio[i] = ta[i] / tb[i];
        }
        return new Timing(P(tb, 0.5), P(tb, 0.9), P(ratio, 0.5), P(ratio, 0.1), P(ratio, 0.9), P(ta, 0.5));
    }

    public static double P(double[] v, double q)
    {
        var s = v.Order().ToArray();
        if (q == 0.5 && s.Length % 2 == 0) return (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return s[Math.Clamp((int)Math.Ceiling(q * s.Length) - 1, 0, s.Length - 1)];
    }

    /// <summary>The kernels column: how many compressed layers ran on integer kernels (of all of them), and the
    /// integer/weight-only operators of the optimised graph with their counts.</summary>
    public static string Kernels(string path, IReadOnlyList<(string Name, string Kind)> layers)
    {
        string optimized = path + ".opt.onnx";
        using (var so = Options(optimized))
        using (new InferenceSession(path, so)) { }
        var opt = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized));
        var counts = opt.Graph.Node.Select(n => (n.Domain is "" or "ai.onnx" ? "" : n.Domain.Replace("com.microsoft", "ms") + ".") + n.OpType)
            .Where(k => k.Contains("Integer") || k.Contains("QLinear") || k.Contains("Dynamic") || k.Contains("NBits") || k.EndsWith("QGemm"))
            .GroupBy(k => k).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}×{g.Count()}").ToList();
        string layerPart = "";
        if (layers.Count > 0)
        {
            var k = LayerKernels.Attribute(opt, layers);
            int integer = k.Count(x => x.Form == LayerKernel.Integer);
            int weightOnly = k.Count(x => x.Form == LayerKernel.WeightOnly);
            layerPart = $"{integer}/{k.Count} layers integer" + (weightOnly > 0 ? $", {weightOnly} weight-only" : "") + "; ";
        }
        File.Delete(optimized);
        return layerPart + (counts.Count == 0 ? "no integer kernel" : string.Join(", ", counts));
    }

    /// <summary>Exports <paramref name="model"/> for <paramref name="target"/> and verifies it (the gate must pass).</summary>
    public static (string Path, long Bytes, IReadOnlyList<(string, string)> Layers, VerificationResult Verification) Export(CompressibleModel model, string path, LayerKindSet kinds, ExportTarget target)
    {
        var export = OnnxExporter.Export(model, path, kinds, new OnnxExportOptions { Target = target });
        var v = OnnxVerifier.Verify(model, export, new VerificationOptions { DetectFusedKernels = false });
        if (!v.Passed) Console.Error.WriteLine($"warning: {Path.GetFileName(path)}: gate failed: {string.Join("; ", v.Failures.Take(3))}");
        return (path, export.BytesOnDisk, export.CompressedLayers.Select(l => (l.Name, l.Kind)).ToList(), v);
    }

    /// <summary>Runs a plugin in process on <paramref name="model"/>.</summary>
    public static ReportBuilder RunPlugin(ICompressionPlugin plugin, CompressibleModel model, PluginOptions options, LayerKindSet kinds, IDataSet? calibration, IDataSet? train = null)
    {
        string work = Directory.CreateTempSubdirectory("int8-bench-").FullName;
        var report = new ReportBuilder();
        plugin.Run(new PluginContext
        {
            Model = model, Data = new PluginData(train, calibration, null), Resume = new FolderResumeStore(work, kinds), Report = report, Seed = 0,
        }, options);
        Directory.Delete(work, recursive: true);
        return report;
    }
}
