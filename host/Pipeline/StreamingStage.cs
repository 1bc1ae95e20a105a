using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Options;
using Compressor.Engine.Streaming;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>The compression phase of a streamed run (<c>compress run --stream</c>, or automatically when the whole
/// model does not fit <c>--max-memory</c> but one block does): the plugin steps run unit by unit — each transformer
/// block in order, then the head (embeddings, final normalisation, output head) — on a model holding that unit alone
/// (<see cref="UnitModel"/>), with the unit's input activations as calibration data when a step uses data. Every
/// finished unit is saved as one resume entry (its compressed tensors, layer configs and report rows) in the work
/// folder, the commit point of that unit: a run killed at any moment and run again skips the saved units and gives
/// the same bytes. The compressed checkpoint is then assembled from the entries tensor by tensor
/// (<see cref="StreamedOutput"/>). Resident: the shell (embeddings and head, float32), one block, its working set and
/// the activations of one block boundary (on disk past their budget). Crash point (<see cref="CrashPoints"/>):
/// <c>stream.after-unit</c>, reached after each unit's entry is committed.</summary>
public sealed class StreamingStage(IPluginLogger log, IProgressReporter progress)
{
    /// <summary>The resume section of the units.</summary>
    public const string SectionName = "stream";

    /// <summary>The key of the head unit's entry.</summary>
    public const string HeadKey = "head";

    /// <summary>The key of block <paramref name="index"/>'s entry.</summary>
    public static string BlockKey(int index) => $"block-{index:D5}";

    /// <summary>One step of the run.</summary>
    public sealed record Step(PluginEntry Plugin, PluginOptions Options, AppliedStep Applied);

    /// <summary>What the phase produced.</summary>
    /// <param name="Seconds">Seconds spent in each step, summed over units (units resumed from the work folder count zero).</param>
    /// <param name="ResumedUnits">Units taken from the work folder.</param>
    public sealed record Result(IReadOnlyList<double> Seconds, int ResumedUnits);

    /// <summary>The state text of a unit's entry.</summary>
    private sealed record UnitState(Dictionary<string, LayerEntry> Layers, List<LayerRow> Rows, List<Metric> Metrics, List<string> Warnings, List<Series> Series, double[] Seconds);

    /// <summary>A compressed layer of a unit.</summary>
    private sealed record LayerEntry(string Kind, int ConfigVersion, string Config);

    /// <summary>Runs <paramref name="steps"/> over <paramref name="checkpoint"/> unit by unit and writes the compressed
    /// checkpoint to <paramref name="output"/>.</summary>
    /// <param name="checkpoint">The opened checkpoint.</param>
    /// <param name="steps">The steps, all streamable.</param>
    /// <param name="calibration">The token data the steps' calibration activations are computed from, or null (no step uses data).</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="device">Where plugins compute.</param>
    /// <param name="workRoot">The run's work folder.</param>
    /// <param name="fingerprint">What must match for saved units to be reused (input, steps, seed, data).</param>
    /// <param name="memory">The run's limit (null: none) and the activations' in-memory budget.</param>
    /// <param name="activationBudget">Bytes of activations kept in memory per block boundary before they go to disk.</param>
    /// <param name="timeoutSeconds">The per-step time limit (applied per unit).</param>
    /// <param name="report">The run's report, which receives every unit's rows, metrics and warnings.</param>
    /// <param name="output">The compressed checkpoint's path (staged).</param>
    /// <param name="cancellation">Cancellation.</param>
    public Result Run(StreamedCheckpoint checkpoint, IReadOnlyList<Step> steps, IDataSet? calibration, int seed, Device device, string workRoot, string fingerprint,
        long? memory, long activationBudget, double? timeoutSeconds, ReportBuilder report, string output, CancellationToken cancellation)
    {
        var kinds = checkpoint.Kinds;
        var targets = steps.Select(EffectiveTargets).ToList();
        using (var whole = checkpoint.Declare())
            for (int i = 0; i < steps.Count; i++)
                if (whole.Select(targets[i], new LayerSelector(steps[i].Options.Include, steps[i].Options.Exclude)).Count == 0)
                    throw new CompressException(ErrorKind.InvalidOptions, $"plugin '{steps[i].Plugin.Id}': no layer it compresses matches --include/--exclude");
        var store = new FolderResumeStore(Path.Combine(workRoot, SectionName), kinds).Section("units", fingerprint);
        var seconds = new double[steps.Count];
        var layers = new Dictionary<string, CompressedLayerEntry>(StringComparer.Ordinal);
        var states = new List<UnitState>();
        int resumed = 0;
        int units = checkpoint.BlockNames.Count + 1;
        NativeMemory.ReturnFreedBlocks();
        using var task = progress.Start("streaming: compress block by block", units);
        using var shell = checkpoint.LoadShell();
        CheckFiniteInput(shell, checkpoint.Path);
        using var stack = calibration is null ? null : new ActivationStack(checkpoint, shell, calibration, workRoot, activationBudget, cancellation);
        for (int u = 0; u < units; u++)
        {
            cancellation.ThrowIfCancellationRequested();
            bool head = u == checkpoint.BlockNames.Count;
            string key = head ? HeadKey : BlockKey(u);
            UnitState state;
            if (store.Load(key) is { } saved)
            {
                using (saved)
                {
                    state = Parse(saved.State, key, store);
                    // Calibration activations flow through the saved, compressed block as they flowed in the first run.
                    if (stack is not null && !head)
                    {
                        using var rebuilt = Rebuild(checkpoint, u, state, saved);
                        stack.Advance(rebuilt);
                    }
                }
                resumed++;
                log.Debug($"streaming: {key} taken from the work folder");
            }
            else
            {
                using var unit = head ? UnitModel.ForHead(shell, checkpoint.Layout) : checkpoint.LoadBlock(u);
                if (!head) CheckFiniteInput(unit, checkpoint.Path);
                state = RunSteps(unit, key, steps, targets, stack?.Current, seed, device, workRoot, checkpoint, memory, stack?.ResidentBytes ?? 0, timeoutSeconds, seconds, cancellation);
                try
                {
                    store.Save(key, JsonConvert.SerializeObject(state, JsonSettings), unit.NamedTensors().Select(t => (t.Name, t.Tensor)));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new CompressException(ErrorKind.OutputFailed, $"cannot write the streamed unit {key} in {workRoot}: {e.Message}");
                }
                CrashPoints.Reach("stream.after-unit");
                if (stack is not null && !head) stack.Advance(unit);
            }
            foreach (var (name, e) in state.Layers)
                layers[name] = new CompressedLayerEntry(e.Kind, e.ConfigVersion, (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(e.Config)!);
            states.Add(state);
            // The block's tensors are disposed; collect the wrappers and read buffers left to the collector now, so
            // that the resident size stays that of one block.
            GC.Collect();
            task.Advance(1, key);
        }
        Merge(states, report, checkpoint.ModuleOrder);
        log.Info($"streaming: writing {Path.GetFileName(output)} tensor by tensor");
        using var declared = StreamedOutput.Declare(checkpoint.Spec, kinds, layers, steps.Select(s => s.Applied));
        using var parts = new Parts(store, checkpoint);
        StreamedOutput.Write(output, declared, parts.Read);
        return new Result(seconds, resumed);
    }

    private static readonly JsonSerializerSettings JsonSettings = new() { FloatFormatHandling = FloatFormatHandling.String, Formatting = Formatting.None };

    /// <summary>Runs every step on one unit and returns its entry state.</summary>
    private UnitState RunSteps(UnitModel unit, string key, IReadOnlyList<Step> steps, IReadOnlyList<LayerType> targets, IDataSet? activations, int seed, Device device, string workRoot,
        StreamedCheckpoint checkpoint, long? memory, long activationBytes, double? timeoutSeconds, double[] seconds, CancellationToken cancellation)
    {
        var unitReport = new ReportBuilder();
        var unitSeconds = new double[steps.Count];
        long unitBytes = unit.NamedTensors().Sum(t => t.Tensor.NumberOfElements * t.Tensor.ElementSize);
        long resident = MemoryEstimate.RuntimeBytes + checkpoint.ShellBytes + (unit.BlockName is null ? 0 : unitBytes) + activationBytes;
        var budget = memory is { } limit ? new MemoryBudget(limit, resident) : MemoryBudget.Unlimited;
        unit.Module.to(device);
        for (int i = 0; i < steps.Count; i++)
        {
            var (entry, options, applied) = steps[i];
            cancellation.ThrowIfCancellationRequested();
            // A unit holding none of the layers the step compresses (GPT-2's head, whose output projection is the
            // tied embedding) is left as it is: the plugin would refuse a model without a layer to compress.
            if (unit.Select(targets[i], new LayerSelector(options.Include, options.Exclude)).Count == 0) continue;
            var data = entry.Manifest!.Needs == Engine.Plugins.DataRequirement.None || activations is null
                ? PluginData.None : new PluginData(null, activations, null);
            using var stepCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var context = new PluginContext
            {
                Model = unit, Data = data, Device = device, Seed = seed, Random = new Random(seed + i), Progress = NullProgressReporter.Instance, Log = log,
                Cancellation = stepCancellation.Token, Resume = new FolderResumeStore(Path.Combine(workRoot, $"{i + 1}-{entry.Id}", key), checkpoint.Kinds),
                Report = unitReport, Memory = budget,
            };
            var guard = SelectionGuard.Capture(entry.Id, unit, new LayerSelector(options.Include, options.Exclude), entry.Manifest.Updates);
            var clock = Stopwatch.StartNew();
            RunPipeline.RunStep(entry, context, options, timeoutSeconds, stepCancellation, cancellation);
            guard.Verify(unit);
            unitSeconds[i] = clock.Elapsed.TotalSeconds;
            seconds[i] += unitSeconds[i];
            unit.Steps.Add(applied);
            RunPipeline.CheckFinite(unit, entry.Id);
        }
        unit.Module.to(CPU);
        var compressed = unit.CompressedLayers().ToDictionary(c => c.Name,
            c => new LayerEntry(c.Layer.Kind, checkpoint.Kinds.Get(c.Layer.Kind).ConfigVersion, LayerConfigJson.Write(c.Layer).ToJsonString()), StringComparer.Ordinal);
        return new UnitState(compressed, unitReport.Layers.ToList(), unitReport.Metrics.ToList(), unitReport.Warnings.ToList(), unitReport.Series.ToList(), unitSeconds);
    }

    /// <summary>The layer types a step compresses: its manifest's targets without those an option enables that is off
    /// (rtn's embeddings without <c>--embeddings</c>).</summary>
    private static LayerType EffectiveTargets(Step step)
    {
        var types = step.Plugin.Manifest!.Targets;
        foreach (var o in OptionsSchema.For(step.Plugin.Instance!.OptionsType).Options)
            if (o.Type == typeof(bool) && o.Enables != LayerType.None && o.Property.GetValue(step.Options) is false) types &= ~o.Enables;
        return types;
    }

    private static UnitState Parse(string json, string key, IResumeStore store)
    {
        try
        {
            return JsonConvert.DeserializeObject<UnitState>(json, JsonSettings) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"streamed unit {key} in the work folder is malformed: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    /// <summary>Block <paramref name="index"/> as a finished run left it: the block built, its compressed layers put in
    /// place from their configs and every tensor loaded from the entry.</summary>
    private static UnitModel Rebuild(StreamedCheckpoint checkpoint, int index, UnitState state, ResumeEntry saved)
    {
        var unit = checkpoint.LoadBlock(index, load: false);
        try
        {
            foreach (var (name, e) in state.Layers.OrderByDescending(kv => kv.Key.Length))
                unit.ReplaceLayer(name, LayerConfigJson.Create(checkpoint.Kinds, e.Kind, e.ConfigVersion,
                    (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(e.Config)!, name));
            using var noGrad = no_grad();
            foreach (var (name, t) in unit.NamedTensors())
            {
                if (!saved.Tensors.TryGetValue(name, out var s) || !s.shape.SequenceEqual(t.shape))
                    throw new CompressException(ErrorKind.InvalidInput, $"streamed unit {BlockKey(index)}: tensor '{name}' is missing or of another shape; delete the work folder and run again");
                t.copy_(s);
            }
            return unit;
        }
        catch
        {
            unit.Dispose();
            throw;
        }
    }

    /// <summary>Adds the units' rows (in module order), metrics and warnings to the run's report. A metric several
    /// units report is merged: averages (units <c>bits</c>, <c>ratio</c>, <c>fraction</c>, <c>tokens</c>, <c>mean …</c>) as the
    /// mean weighted by the same unit's compressed weights (<see cref="WeightsOf"/>); sample counts (unit <c>samples</c>, the same calibration set for every unit) as their
    /// maximum; everything else (counts, losses summed over layers, seconds) as their sum. Warnings are kept once.</summary>
    private static void Merge(List<UnitState> states, ReportBuilder report, IReadOnlyList<string> moduleOrder)
    {
        var position = moduleOrder.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        foreach (var row in states.SelectMany(s => s.Rows).OrderBy(r => position.TryGetValue(r.Name, out int p) ? p : int.MaxValue))
            report.AddLayer(row);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var w in states.SelectMany(s => s.Warnings))
            if (seen.Add(w)) report.Warn(w);
        foreach (var s in states.SelectMany(s => s.Series)) report.AddSeries(s);
        var names = states.SelectMany(s => s.Metrics).Select(m => (m.Name, m.Unit, m.Dataset)).Distinct().ToList();
        foreach (var (name, unit, dataset) in names)
        {
            var values = states.Select(s => (State: s, Metric: s.Metrics.FirstOrDefault(m => m.Name == name && m.Unit == unit && m.Dataset == dataset)))
                .Where(x => x.Metric is not null).ToList();
            double value;
            if (values.Count == 1) value = values[0].Metric!.Value;
            else if (IsMean(unit))
            {
                double weightSum = 0, sum = 0;
                foreach (var (s, m) in values)
                {
                    double w = WeightsOf(s);
                    weightSum += w;
                    sum += w * m!.Value;
                }
                value = weightSum > 0 ? sum / weightSum : values.Average(v => v.Metric!.Value);
            }
            else if (unit == "samples") value = values.Max(v => v.Metric!.Value);
            else value = values.Sum(v => v.Metric!.Value);
            report.AddMetric(new Metric(name, value, unit, dataset, values[0].Metric!.Reference));
        }
    }

    /// <summary>Metrics that are per-weight or per-layer averages, merged as a weighted mean: bits per weight, ratios and
    /// fractions (sparsity's kept share, WINA's output error), break-even token counts, and units that say they are a
    /// mean (jlcm's relative loss).</summary>
    private static bool IsMean(string unit) =>
        unit is "bits" or "ratio" or "fraction" or "tokens" || unit.StartsWith("mean ", StringComparison.Ordinal);

    /// <summary>The weight of a unit's averages: the weights it compressed, as its plugins count them (rtn/gptq
    /// quantizedWeights, jlcm compressedWeights, sparsity replacedDenseWeights), else 1.</summary>
    private static double WeightsOf(UnitState state) =>
        (state.Metrics.FirstOrDefault(x => x.Name == "quantizedWeights") ?? state.Metrics.FirstOrDefault(x => x.Name == "compressedWeights")
         ?? state.Metrics.FirstOrDefault(x => x.Name == "replacedDenseWeights"))?.Value ?? 1;

    private static void CheckFiniteInput(CompressibleModel model, string path)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, t) in model.NamedTensors())
            if (t.is_floating_point() && !t.isfinite().all().item<bool>())
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: tensor '{name}' holds non-finite values (NaN or Inf); compress needs finite weights");
    }

    /// <summary>Reads the compressed tensors back from the units' entries, one entry in memory at a time.</summary>
    private sealed class Parts(IResumeStore store, StreamedCheckpoint checkpoint) : IDisposable
    {
        private string? _key;
        private ResumeEntry? _entry;

        public Tensor Read(string name)
        {
            int block = checkpoint.BlockOf(name);
            string key = block >= 0 ? BlockKey(block) : HeadKey;
            if (key != _key)
            {
                _entry?.Dispose();
                _entry = null;
                _key = key;
                _entry = store.Load(key) ?? throw new CompressException(ErrorKind.OutputFailed, $"the streamed unit {key} vanished from the work folder");
            }
            var entry = _entry ?? throw new InvalidOperationException("no streamed unit loaded");
            return entry.Tensors.TryGetValue(name, out var t)
                ? t.alias()
                : throw new CompressException(ErrorKind.PluginFailed, $"the streamed unit {key} holds no tensor '{name}'");
        }

        public void Dispose() => _entry?.Dispose();
    }
}
