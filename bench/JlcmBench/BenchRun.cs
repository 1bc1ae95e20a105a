using System.Diagnostics;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Evaluation;
using Compressor.Layers.Codebook;
using Compressor.Sdk.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Layers;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;

/// <summary>One benchmark row's compression, the same for the MiniLM and the ResNet18 benchmark: the options a
/// method name stands for, a fresh copy of the model compressed by the jlcm plugin (wall time and peak memory
/// measured), and the exported ONNX size.</summary>
internal static class BenchRun
{
    /// <summary>The kinds a host running jlcm knows: the layers library's and the plugin's own (none).</summary>
    public static LayerKindSet Kinds { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new JlcmPlugin().LayerKinds);

    /// <summary>The plugin options of a row: <paramref name="method"/> is rtn, kmeans, default or proximal.</summary>
    public static JlcmOptions Options(string method, int bits, int groups, CodebookVariant variant, double lr, int samples, int iterations) => new()
    {
        WeightBits = bits, Groups = groups, Variant = variant, LearningRate = lr, CalibrationSamples = samples, Iterations = iterations,
        Method = method switch { "rtn" => JlcmMethod.Rtn, "kmeans" => JlcmMethod.Kmeans, _ => JlcmMethod.Jlcm },
        Gradient = method == "default" ? MappingGradientKind.Default : MappingGradientKind.Proximal,
    };

    /// <summary>Loads <paramref name="modelPath"/> afresh and compresses it with the plugin seed <paramref name="seed"/> (k-means
    /// initialisation); the caller disposes the model.</summary>
    public static (CompressibleModel Model, ReportBuilder Report, double Seconds, double PeakMib) Compress(string modelPath, JlcmOptions options, PluginData data, int seed = 0)
    {
        var model = ModelIO.Load(modelPath, BenchRun.Kinds);
        var report = new ReportBuilder();
        string work = Directory.CreateTempSubdirectory("jlcm-bench-").FullName;
        var clock = Stopwatch.StartNew();
        var (mib, _) = PeakMemory.Measure(() => new JlcmPlugin().Run(new PluginContext
        {
            Model = model, Data = data, Resume = new FolderResumeStore(work, Kinds), Report = report, Seed = seed,
        }, options));
        double seconds = clock.Elapsed.TotalSeconds;
        Directory.Delete(work, recursive: true);
        return (model, report, seconds, mib);
    }

    /// <summary>Bytes on disk of <paramref name="model"/> exported to ONNX (the file is deleted again).</summary>
    public static long OnnxBytes(CompressibleModel model)
    {
        string onnx = Path.Combine(Path.GetTempPath(), $"jlcm-bench-{Guid.NewGuid():N}.onnx");
        long bytes = OnnxExporter.Export(model, onnx, Kinds).BytesOnDisk;
        File.Delete(onnx);
        if (File.Exists(onnx + ".data")) File.Delete(onnx + ".data");
        return bytes;
    }
}
