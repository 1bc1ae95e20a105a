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
using Compressor.Plugins.Gptq;
using Compressor.Plugins.Gptq.Algorithm;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Options;

/// <summary>One benchmark row's compression, the same for the MiniLM and the ResNet18 benchmark: the options a
/// method name stands for, a fresh copy of the model compressed by the jlcm plugin (wall time and peak memory
/// measured), and the exported ONNX size.</summary>
internal static class BenchRun
{
    /// <summary>The kinds a host running jlcm knows: the layers library's and the plugin's own (none).</summary>
    public static LayerKindSet Kinds { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new JlcmPlugin().LayerKinds).With(new GptqPlugin().LayerKinds);

    /// <summary>The rows run by the gptq or rtn plugin instead of jlcm: rtn-plugin (the rtn sample), nearest (gptq's grid,
    /// round to nearest), awq (AWQ + nearest), gptq, awq-gptq, gptq-act (act-order with static groups), awq-gptq-act.</summary>
    public static readonly string[] GptqFamily = ["rtn-plugin", "nearest", "awq", "gptq", "awq-gptq", "gptq-act", "awq-gptq-act"];

    /// <summary>CPU seconds (all threads of the process) of the last <see cref="Compress(string, ICompressionPlugin, PluginOptions, PluginData, int)"/>:
    /// on a shared machine the wall time measures the other jobs too; the CPU time is what the run itself used.</summary>
    public static double LastCpuSeconds { get; private set; }

    /// <summary>AWQ's clipping in the gptq-family rows (bench argument awqclip=auto|on|off).</summary>
    public static ClipMode AwqClip { get; set; } = ClipMode.Auto;

    /// <summary>jlcm rows with the GPTVQ initialisation: gptvq (initialisation only) and jlcm-gptq (then joint learning, proximal).</summary>
    public static bool IsGptvq(string method) => method is "gptvq" or "jlcm-gptq";

    /// <summary>The plugin and options of a gptq-family row.</summary>
    public static (ICompressionPlugin Plugin, PluginOptions Options) GptqRow(string method, int bits, int groupSize, bool symmetric, int samples, string[] include, string[] exclude)
    {
        if (method == "rtn-plugin")
            return (new RtnPlugin(), new RtnOptions { WeightBits = bits, GroupSize = groupSize, Include = include, Exclude = exclude,
                Scheme = symmetric ? Compressor.Samples.RoundToNearest.Algorithm.QuantScheme.Symmetric : Compressor.Samples.RoundToNearest.Algorithm.QuantScheme.Asymmetric });
        var o = new GptqOptions
        {
            WeightBits = bits, GroupSize = groupSize, CalibrationSamples = samples, Include = include, Exclude = exclude,
            Scheme = symmetric ? Compressor.Plugins.Gptq.Algorithm.QuantScheme.Symmetric : Compressor.Plugins.Gptq.Algorithm.QuantScheme.Asymmetric,
            Awq = method.StartsWith("awq", StringComparison.Ordinal),
            Rounding = method is "nearest" or "awq" ? Rounding.Nearest : Rounding.Gptq,
            ActOrder = method.EndsWith("-act", StringComparison.Ordinal),
            AwqClip = AwqClip,
        };
        return (new GptqPlugin(), o);
    }

    /// <summary>The plugin options of a row: <paramref name="method"/> is rtn, kmeans, default or proximal.</summary>
    public static JlcmOptions Options(string method, int bits, int groups, CodebookVariant variant, double lr, int samples, int iterations) => new()
    {
        WeightBits = bits, Groups = groups, Variant = variant, LearningRate = lr, CalibrationSamples = samples, Iterations = iterations,
        Method = method switch { "rtn" => JlcmMethod.Rtn, "kmeans" or "gptvq" => JlcmMethod.Kmeans, _ => JlcmMethod.Jlcm },
        Gradient = method == "default" ? MappingGradientKind.Default : MappingGradientKind.Proximal,
        Init = IsGptvq(method) ? CodebookInit.Gptq : CodebookInit.PlusPlus,
    };

    /// <summary>Loads <paramref name="modelPath"/> afresh and compresses it with the plugin seed <paramref name="seed"/> (k-means
    /// initialisation); the caller disposes the model.</summary>
    public static (CompressibleModel Model, ReportBuilder Report, double Seconds, double PeakMib) Compress(string modelPath, JlcmOptions options, PluginData data, int seed = 0) =>
        Compress(modelPath, new JlcmPlugin(), options, data, seed);

    /// <summary>Loads <paramref name="modelPath"/> afresh and compresses it with <paramref name="plugin"/>.</summary>
    public static (CompressibleModel Model, ReportBuilder Report, double Seconds, double PeakMib) Compress(string modelPath, ICompressionPlugin plugin, PluginOptions options, PluginData data, int seed = 0)
    {
        var model = ModelIO.Load(modelPath, BenchRun.Kinds);
        var report = new ReportBuilder();
        string work = Directory.CreateTempSubdirectory("jlcm-bench-").FullName;
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var (mib, _) = PeakMemory.Measure(() => plugin.Run(new PluginContext
        {
            Model = model, Data = data, Resume = new FolderResumeStore(work, Kinds), Report = report, Seed = seed,
        }, options));
        double seconds = clock.Elapsed.TotalSeconds;
        LastCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Directory.Delete(work, recursive: true);
        return (model, report, seconds, mib);
    }

    /// <summary>Stored bits per weight of the compressed layers, as the plugin reported them.</summary>
    public static double BitsPerWeight(ReportBuilder report) =>
        report.Metrics.FirstOrDefault(m => m.Name is "bitsPerWeight" or "quantizedBitsPerWeight")?.Value ?? double.NaN;

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
