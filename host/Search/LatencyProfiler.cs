using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Evaluation;
using Compressor.Engine.Onnx.Export;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Microsoft.ML.OnnxRuntime;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Measures the latency costs of a <c>--budget latency=…</c> search on ONNX Runtime, on this machine, once:
/// <list type="bullet">
/// <item>each searched linear layer's input rows on the evaluation's latency batch (the first batch of
/// <see cref="BatchSize"/> samples, as the end-to-end speed-up is timed), found by one forward pass in process;</item>
/// <item>per distinct (weight shape, rows) and treatment: a one-layer model (the <c>mlp</c> architecture with that layer's
/// weight and bias) treated by the treatment's own plugin step (calibrated on normal samples of the layer's width: the
/// values do not change the kernels' time), exported with <c>--target speed</c> as a candidate would be, timed on an
/// input of [rows, in] — all of a shape's treatments in interleaved rounds (each round runs every treatment, the order
/// rotating), the median per treatment;</item>
/// <item>the input model exported as it is, timed on the latency batch: what the searched layers' FP32 times leave of it
/// is the remainder every allocation carries.</item>
/// </list>
/// Every number is cached in <c>WORK/latency/MACHINE.json</c>, keyed by the machine (processor, cores, ONNX Runtime,
/// threads) and the shape, so a second search on this machine (or another model with the same shapes) times nothing.</summary>
public sealed class LatencyProfiler(PluginCatalog catalog, IPluginLogger log, IProgressReporter progress, int seed, string workDirectory)
{
    /// <summary>Samples of the latency batch (the evaluation's default batch size: the end-to-end speed-up's batch).</summary>
    public const int BatchSize = 64;

    /// <summary>Untimed runs of each graph before the timed rounds.</summary>
    public const int WarmupRuns = 3;

    /// <summary>Timed rounds (each round times every treatment of a shape once).</summary>
    public const int Rounds = 15;

    /// <summary>A timed sample repeats a run until the FP32 graph has taken at least this long (tiny layers run in microseconds).</summary>
    public const double MinimumSampleMs = 2;

    /// <summary>The cache file for this machine.</summary>
    public string CacheFile => Path.Combine(workDirectory, "latency", MachineKey(Threads) + ".json");

    /// <summary>What identifies this machine's timings: processor model, logical cores, ONNX Runtime version and intra-op threads.</summary>
    public static string Machine(int threads) =>
        $"{CpuModel()}; {Environment.ProcessorCount} logical cores; {RuntimeInformationOs()}; ONNX Runtime {OrtEnv.Instance().GetVersionString()}; {threads} intra-op threads";

    /// <summary>The cache file's name for <paramref name="threads"/> intra-op threads (a hash of <see cref="Machine"/>).</summary>
    public static string MachineKey(int threads) => SearchPipeline.Hash(Machine(threads));

    private static int Threads => Compressor.Engine.Runtime.ComputeThreads.Count;

    /// <summary>The cache key of one treatment on one layer shape.</summary>
    public static string EntryKey(long outFeatures, long inFeatures, long rows, Treatment treatment) =>
        $"linear [{outFeatures}, {inFeatures}] rows {rows} {treatment.Id} {treatment.Options.ToString(Formatting.None)}";

    /// <summary>The cache key of the input model's latency.</summary>
    public static string ModelKey(string sha256, long batch) => $"model {sha256} batch {batch}";

    /// <summary>The latency table of <paramref name="layers"/> (linear layers of <paramref name="model"/>) under
    /// <paramref name="treatments"/>.</summary>
    /// <exception cref="CompressException">The model cannot be exported or timed.</exception>
    public LatencyTable Measure(CompressibleModel model, string modelSha256, IReadOnlyList<SearchLayer> layers, IReadOnlyList<Treatment> treatments, IDataSet evaluation,
        CancellationToken cancellation)
    {
        var cache = ReadCache();
        int cached = 0, measured = 0;
        string scratch = Path.Combine(workDirectory, "latency", $"scratch-{Environment.ProcessId}");
        try
        {
            Tensor batch;
            using (var first = evaluation.Batches(BatchSize).FirstOrDefault() ?? throw new CompressException(ErrorKind.InvalidInput, $"data set {evaluation.Name} is empty"))
                batch = first.Input.clone();
            using var batchScope = batch;
            var rows = Rows(model, layers, batch);

            // The input model as it is.
            string modelKey = ModelKey(modelSha256, batch.shape[0]);
            if (cache.TryGetValue(modelKey, out double modelMs)) cached++;
            else
            {
                Directory.CreateDirectory(scratch);
                string path = Path.Combine(scratch, "model.onnx");
                OnnxExporter.Export(model, path, catalog.Kinds, new OnnxExportOptions());
                using (var runner = new OrtModelRunner(path, Options()))
                    modelMs = Time([runner], batch, cancellation)[0];
                cache[modelKey] = modelMs;
                measured++;
                WriteCache(cache);
            }

            var perLayer = layers.Select(_ => new Dictionary<string, double>(StringComparer.Ordinal)).ToList();
            var groups = layers.Select((l, i) => (Layer: l, Index: i)).GroupBy(x => (Out: x.Layer.Shape[0], In: x.Layer.Shape[1], Rows: rows[x.Index])).ToList();
            using var task = progress.Start($"latency of {groups.Count} layer shape(s) × {treatments.Count} treatments on ONNX Runtime", groups.Count);
            foreach (var group in groups)
            {
                cancellation.ThrowIfCancellationRequested();
                var (o, i, r) = group.Key;
                var missing = treatments.Where(t => !cache.ContainsKey(EntryKey(o, i, r, t))).ToList();
                if (missing.Count == 0) cached += treatments.Count;
                else
                {
                    // Time the whole shape again, interleaved (FP32 with the rest: the treatments are compared in the same rounds).
                    var times = TimeShape(model, group.First().Layer, r, treatments, scratch, cancellation);
                    foreach (var t in treatments) cache[EntryKey(o, i, r, t)] = times.TryGetValue(t.Id, out double ms) ? ms : double.NaN;
                    measured += treatments.Count;
                    WriteCache(cache);
                }
                foreach (var (_, index) in group)
                    foreach (var t in treatments)
                        if (cache[EntryKey(o, i, r, t)] is var ms && double.IsFinite(ms)) perLayer[index][t.Id] = ms;
                task.Advance(1, $"[{o}, {i}] × {r} rows");
            }
            double fp32 = perLayer.Sum(p => p.GetValueOrDefault(Treatment.Fp32.Id));
            log.Info($"search: latency on ONNX Runtime: the input model {modelMs:F3} ms on {batch.shape[0]} samples, its searched layers {fp32:F3} ms in FP32 ({measured} timed now, {cached} from {Path.GetFileName(CacheFile)})");
            return new LatencyTable(Machine(Threads), Threads, batch.shape[0], modelMs, fp32, Math.Max(0, modelMs - fp32),
                $"one-layer graphs exported for speed, input [rows, in]; medians of {Rounds} interleaved rounds after {WarmupRuns} warm-up runs (each sample at least {MinimumSampleMs} ms of repeated runs); the input model timed on the evaluation's first batch",
                cached, layers.Select((l, k) => new LayerLatency(l.Name, l.Shape, rows[k], perLayer[k])).ToList());
        }
        finally
        {
            try { if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Rows of each layer's input on <paramref name="batch"/>: one forward pass with a probe in place of each layer.</summary>
    private static long[] Rows(CompressibleModel model, IReadOnlyList<SearchLayer> layers, Tensor batch)
    {
        var probes = new List<(string Name, InputRowsProbe Probe)>();
        var device = model.Module.parameters().First().device;
        try
        {
            foreach (var l in layers)
            {
                if (model.GetLayer(l.Name) is not TorchSharp.Modules.Linear linear)
                    throw new CompressException(ErrorKind.InvalidOptions, $"search: --budget latency times linear layers; {l.Name} is not one (exclude it)");
                var probe = new InputRowsProbe(linear);
                model.ReplaceLayer(l.Name, probe, disposeOld: false);
                probes.Add((l.Name, probe));
            }
            using (no_grad())
            using (NewDisposeScope())
                InProcessEvaluator.Output(model, batch.to(device));
            return probes.Select(p => p.Probe.Rows).ToArray();
        }
        finally
        {
            foreach (var (name, probe) in probes)
            {
                model.ReplaceLayer(name, probe.Inner, disposeOld: false);
                probe.Dispose();
            }
        }
    }

    /// <summary>Milliseconds of every treatment that applies to a one-layer model shaped like <paramref name="layer"/>.</summary>
    private Dictionary<string, double> TimeShape(CompressibleModel model, SearchLayer layer, long rows, IReadOnlyList<Treatment> treatments, string scratch, CancellationToken cancellation)
    {
        Directory.CreateDirectory(scratch);
        long o = layer.Shape[0], i = layer.Shape[1];
        var original = (TorchSharp.Modules.Linear)model.GetLayer(layer.Name);
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        using var calibration = new TensorDataSet("latency-calibration", randn([64, i], generator: generator), null);
        var trials = new TrialRunner(model, catalog, new PluginData(calibration, calibration, calibration), CPU, seed, Path.Combine(scratch, "trials"));
        var runners = new List<(string Id, OrtModelRunner Runner)>();
        try
        {
            foreach (var t in treatments)
            {
                var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = i, ["hidden"] = new JArray(), ["outputs"] = o });
                using var one = ArchitectureRegistry.CreateModel(spec, catalog.Kinds);
                using (no_grad())
                {
                    var target = (TorchSharp.Modules.Linear)one.GetLayer("layers.0");
                    target.weight!.copy_(original.weight!);
                    if (original.bias is not null) target.bias!.copy_(original.bias);
                }
                try
                {
                    if (!t.IsFp32) trials.Run(one, t, ["layers.0"], [layer.Name], withData: true, 0, cancellation);
                    if (!t.IsFp32 && one.GetLayer("layers.0") is not ICompressedLayer) continue;   // left float: does not apply
                    string path = Path.Combine(scratch, $"{runners.Count}.onnx");
                    OnnxExporter.Export(one, path, catalog.Kinds, new OnnxExportOptions { Target = ExportTarget.Speed });
                    runners.Add((t.Id, new OrtModelRunner(path, Options())));
                }
                catch (CompressException e) when (e.Kind is ErrorKind.InvalidOptions or ErrorKind.VerificationFailed)
                {
                    log.Debug($"search: {t.Id} has no speed export for [{o}, {i}]: {e.Message}");
                }
            }
            using var input = randn([rows, i], generator: generator);
            var ms = Time(runners.Select(r => r.Runner).ToList(), input, cancellation);
            return runners.Select((r, k) => (r.Id, ms[k])).ToDictionary(x => x.Id, x => x.Item2, StringComparer.Ordinal);
        }
        finally
        {
            foreach (var (_, r) in runners) r.Dispose();
        }
    }

    /// <summary>Median milliseconds of each runner on <paramref name="input"/>: warm-up runs, then <see cref="Rounds"/>
    /// rounds that time every runner once, the order rotating each round; a sample repeats its run as often as the first
    /// runner needs to take <see cref="MinimumSampleMs"/>.</summary>
    private static double[] Time(IReadOnlyList<OrtModelRunner> runners, Tensor input, CancellationToken cancellation)
    {
        if (runners.Count == 0) return [];
        var feeds = runners.Select(r => r.ToOrt(input)).ToList();
        try
        {
            foreach (var (r, f) in runners.Zip(feeds))
                for (int w = 0; w < WarmupRuns; w++) r.RunRaw(f);
            long start = Stopwatch.GetTimestamp();
            runners[0].RunRaw(feeds[0]);
            double once = Math.Max(1e-3, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            int repeats = (int)Math.Clamp(Math.Ceiling(MinimumSampleMs / once), 1, 1000);
            var samples = runners.Select(_ => new double[Rounds]).ToList();
            for (int round = 0; round < Rounds; round++)
            {
                cancellation.ThrowIfCancellationRequested();
                for (int k = 0; k < runners.Count; k++)
                {
                    int j = (k + round) % runners.Count;
                    long t0 = Stopwatch.GetTimestamp();
                    for (int rep = 0; rep < repeats; rep++) runners[j].RunRaw(feeds[j]);
                    samples[j][round] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds / repeats;
                }
            }
            return samples.Select(s => Median(s)).ToArray();
        }
        finally
        {
            foreach (var f in feeds) f.Dispose();
        }
    }

    private static double Median(double[] values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static OrtEvaluationOptions Options() => new() { IntraOpThreads = Threads };

    private Dictionary<string, double> ReadCache()
    {
        try
        {
            if (File.Exists(CacheFile) && JsonConvert.DeserializeObject<CacheContent>(File.ReadAllText(CacheFile)) is { Entries: { } e })
                return new Dictionary<string, double>(e, StringComparer.Ordinal);
        }
        catch (JsonException) { log.Warn($"search: the latency cache {CacheFile} is unreadable: timing again"); }
        return new Dictionary<string, double>(StringComparer.Ordinal);
    }

    private void WriteCache(Dictionary<string, double> entries)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
            var content = new CacheContent(Machine(Threads), new SortedDictionary<string, double>(entries, StringComparer.Ordinal));
            Compressor.Engine.IO.AtomicFile.WriteAllText(CacheFile, JsonConvert.SerializeObject(content, Formatting.Indented,
                new JsonSerializerSettings { Culture = CultureInfo.InvariantCulture, FloatFormatHandling = FloatFormatHandling.String }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write the latency cache {CacheFile}: {e.Message}");
        }
    }

    private static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is > 0 and var at)
                        return line[(at + 1)..].Trim();
        }
        catch (IOException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string RuntimeInformationOs() => System.Runtime.InteropServices.RuntimeInformation.OSDescription.Split(' ')[0];

    /// <summary>The cache file's content: the machine, then entry key → milliseconds (NaN: the treatment has no speed export there).</summary>
    public sealed record CacheContent(string Machine, IDictionary<string, double> Entries);
}
