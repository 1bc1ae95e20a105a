using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Runs one <c>compress search</c>:
/// <list type="number">
/// <item>loads the model and the data once; measures the uncompressed model in process on the first evaluation samples;</item>
/// <item>sensitivity: for every searched layer × treatment, the storage bits and the damage of treating only that
/// layer (<see cref="SensitivityAnalysis"/>: measured, or the Fisher estimate);</item>
/// <item>allocation: the exact multiple-choice knapsack over the layers (<see cref="MultipleChoiceKnapsack"/>) gives
/// the least-damage allocation for every cost — the predicted frontier;</item>
/// <item>in process, the frontier points the budget asks about are evaluated for real (layer damages do not add
/// exactly): for <c>=min</c> a bisection finds the cheapest point that keeps the metric; for a limit, the least
/// damaging points within it;</item>
/// <item>end to end: the most promising points run through the ordinary pipeline (<see cref="CandidateRunner"/>:
/// exported, verified, evaluated on ONNX Runtime), cached by recipe hash; the best one that meets the budget and
/// keeps the metric on ONNX Runtime is chosen;</item>
/// <item>its run outputs (recipe.json, compressed.safetensors, model.onnx, report.*) and search.json/.md/.html are
/// committed to the output folder as a set (<see cref="OutputStaging"/>), or nothing is when no point qualifies
/// (<see cref="BudgetNotMetException"/>).</item>
/// </list></summary>
public sealed class SearchPipeline(PluginCatalog catalog, IPluginLogger log, IProgressReporter progress)
{
    /// <summary>search.json.</summary>
    public const string ReportFile = "search.json";

    /// <summary>Discretisation of the cost: the largest total cost spans this many units. Each layer's cost is rounded up
    /// to a unit, so the allocation can miss the budget's optimum by up to one unit per layer: at 4,000 units MiniLM's
    /// 37 layers lost up to 0.3 bits/weight (a bits=4.5 search ended at 4.36); at 40,000 the gap is 0.03, and the
    /// dynamic programme still takes well under a second.</summary>
    public const int Resolution = 40_000;

    /// <summary>Frontier points evaluated in process for the Pareto plot, besides those the budget needs.</summary>
    public const int PlotPoints = 10;

    /// <summary>Executes <paramref name="request"/>.</summary>
    /// <exception cref="CompressException">A user-facing failure.</exception>
    /// <exception cref="BudgetNotMetException">No candidate meets the budget and keeps the metric.</exception>
    public SearchResult Execute(SearchRequest request, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var timings = new OrderedDictionary<string, double>(StringComparer.Ordinal);
        var warnings = new List<string>();
        bool latency = request.Budget.Kind == BudgetKind.Latency;
        if (latency && request.Target != ExportTarget.Speed)
            throw new CompressException(ErrorKind.InvalidOptions, "--budget latency=…: latency is measured on the speed export; add --target speed");
        var treatments = latency ? TreatmentMenu.BuildForSpeed(request.Methods, catalog) : TreatmentMenu.Build(request.Methods, request.Bits, request.Groups, catalog);
        if (request.Samples < 1) throw new CompressException(ErrorKind.InvalidOptions, $"--samples {request.Samples} must be at least 1");
        if (request.TrialSamples is < 1) throw new CompressException(ErrorKind.InvalidOptions, $"--trial-samples {request.TrialSamples} must be at least 1");
        if (request.MaxCandidates < 1) throw new CompressException(ErrorKind.InvalidOptions, $"--max-candidates {request.MaxCandidates} must be at least 1");
        var device = DeviceSelector.Resolve(request.Device);
        Compressor.Engine.IO.InputFiles.RequireRegular(request.ModelPath);
        using var staging = new OutputStaging(request.OutputDirectory);
        string work = Path.GetFullPath(request.WorkDirectory ?? Path.Combine(staging.OutputDirectory, ".work"));
        var input = InputFile.Of(request.ModelPath);
        using var data = DataSources.Open(request.Data, request.Seed);
        manual_seed(request.Seed);
        log.Info($"search: loading {request.ModelPath}");
        using var model = ModelIO.Load(request.ModelPath, catalog.Kinds, null, new ForeignModelOptions(request.Architecture, request.Heads));
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, $"{request.ModelPath}: search evaluates the model, but it has no known architecture: pass --arch");
        model.Module.to(device);
        var selector = new LayerSelector(request.Include ?? [], request.Exclude ?? []);
        // A latency search times linear layers (one-layer graphs); conv layers stay as they are and count in the remainder.
        var layers = model.Select(latency ? LayerType.Linear : LayerType.Linear | LayerType.Conv2d, selector)
            .Select(l => new SearchLayer(l.Name, l.Type.ToString().ToLowerInvariant(), l.WeightShape.ToArray(), l.WeightCount)).ToList();
        if (layers.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, $"search: no linear{(latency ? "" : " or conv")} layer selected (check --include/--exclude)");
        long totalWeights = layers.Sum(l => l.Weights);
        long modelBits = model.NamedTensors().Sum(t => t.Tensor.numel() * t.Tensor.element_size() * 8);
        long fixedBits = modelBits - layers.Sum(l => l.Fp32Bits);
        timings["load"] = Seconds(clock);

        // The uncompressed model in process, on the first evaluation samples.
        var stage = Stopwatch.StartNew();
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, request.Samples, request.Keep, device);
        log.Info($"search: {layers.Count} layers ({totalWeights:N0} weights), {treatments.Count} treatments; in process {request.Keep.Metric} of the input model on {evaluator.Samples} samples: {evaluator.ReferenceMetric:G6}");
        double inProcessThreshold = request.Keep.Threshold(evaluator.ReferenceMetric);
        // The per-layer trials (and the Fisher pass) on the first --trial-samples of them when fewer are asked for.
        using var subset = request.TrialSamples is { } ts && ts < evaluator.Samples ? new InProcessEvaluator(model, data.Evaluation, ts, request.Keep, device) : null;
        var trialEvaluator = subset ?? evaluator;
        if (subset is not null) log.Info($"search: layer trials on the first {subset.Samples} samples (--trial-samples); frontier points on {evaluator.Samples}");

        // Sensitivity.
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), device, request.Seed, Path.Combine(work, "trials"));
        // "kfac": the Fisher estimate's form (the diagonal one of earlier versions is not reused).
        string configKey = Hash(string.Join("\n", input.Sha256, request.Data, trialEvaluator.Samples, request.Seed, request.Keep.Metric, request.Device, request.Architecture ?? "", "kfac"));
        using var weights = new TreatedWeights(trials, model, layers, log);
        var analysis = new SensitivityAnalysis(weights, trialEvaluator, log, progress, Path.Combine(work, $"sensitivity-{configKey}.jsonl"));
        var (mode, reason) = ResolveMode(request, analysis, model, layers, treatments, cancellation);
        if (subset is not null) reason += $"; layer trials on the first {subset.Samples} of the {evaluator.Samples} samples (--trial-samples)";
        log.Info($"search: sensitivity {mode.ToString().ToLowerInvariant()} ({reason})");
        var layerTrials = analysis.Run(model, layers, treatments, mode, request.Keep, request.FisherSamples, request.Seed, cancellation);
        timings["sensitivity"] = Seconds(stage);

        // Latency costs: per layer × treatment on ONNX Runtime, on this machine (cached per machine and shape).
        LatencyTable? latencies = null;
        if (latency)
        {
            stage.Restart();
            latencies = new LatencyProfiler(catalog, log, progress, request.Seed, work).Measure(model, input.Sha256, layers, treatments, data.Evaluation, cancellation);
            timings["latency"] = Seconds(stage);
        }

        // Allocation: options per layer (treatments that apply), cost = storage bits (or milliseconds on ONNX Runtime), damage ≥ 0.
        var byLayer = layers.Select(l => layerTrials.Where(t => t.Layer == l.Name)
            .Where(t => latencies is null || latencies.Of(l.Name, t.Treatment) is not null)
            .Select(t => (Trial: t, Treatment: treatments.First(x => x.Id == t.Treatment))).ToList()).ToList();
        double Cost(int l, (LayerTrial Trial, Treatment Treatment) x) => latencies is null ? x.Trial.Bits : latencies.Of(layers[l].Name, x.Treatment.Id)!.Value;
        var real = byLayer.Select((o, l) => (IReadOnlyList<(double, double)>)o.Select(x => (Cost(l, x), Math.Max(0, x.Trial.Damage))).ToList()).ToList();
        var (unit, discrete) = MultipleChoiceKnapsack.Discretise(real, Resolution);
        long fullCapacity = discrete.Sum(o => o.Max(x => x.Cost));
        var knapsack = new MultipleChoiceKnapsack(discrete, fullCapacity);
        long? capacity = request.Budget.Limit is not { } limit ? null : request.Budget.Kind switch
        {
            BudgetKind.Bits => (long)Math.Floor(limit * totalWeights / unit + 1e-9),
            BudgetKind.Latency => (long)Math.Floor((limit * latencies!.ModelMs - latencies.RemainderMs) / unit + 1e-9),
            _ => (long)Math.Floor((limit * 8 - fixedBits) / unit + 1e-9),
        };
        if (capacity is < 0) capacity = -1;
        var frontier = knapsack.Frontier();
        string costName = request.Budget.Kind switch
        {
            BudgetKind.Size => "bits of the searched weights (the rest of the model is fixed)",
            BudgetKind.Latency => "milliseconds of the searched layers on ONNX Runtime (one-layer graphs exported for speed; the rest of the model is a fixed remainder)",
            _ => "bits of the searched weights",
        };
        var allocationSummary = new AllocationSummary(
            "exact dynamic programming over the multiple-choice knapsack (one treatment per layer), costs rounded up to the unit",
            costName, unit, capacity,
            latencies is null
                ? $"optimal for the rounded costs; every solution fits its budget in real bits, and its damage is at most the optimum for the budget less {layers.Count} units ({layers.Count * unit / Math.Max(1, totalWeights):G3} bits/weight)"
                : $"optimal for the rounded costs; every solution fits its budget in predicted milliseconds, and its damage is at most the optimum for the budget less {layers.Count} units ({layers.Count * unit / Math.Max(1e-9, latencies.ModelMs):G3} of the FP32 latency)",
            frontier.Count);
        var runner = new CandidateRunner(catalog, log, progress, request, input.Sha256, work);
        Candidate ToCandidate((long Cost, double Damage, int[] Choice) p)
        {
            var allocation = Allocation(p.Choice, byLayer, layers);
            long bits = p.Choice.Select((j, l) => byLayer[l][j].Trial.Bits).Sum();
            return new Candidate
            {
                Id = runner.IdOf(RecipeText.Of(allocation, request.Seed, ExportTargets.Name(request.Target))),
                Allocation = allocation.ToDictionary(a => a.Layer, a => a.Treatment.Id),
                PredictedDamage = p.Damage, WeightBits = bits, BitsPerWeight = (double)bits / totalWeights,
                PredictedLatency = latencies is null ? null : Math.Round(latencies.Relative(p.Choice.Select((j, l) => Cost(l, byLayer[l][j])).Sum()), 6),
            };
        }
        var points = frontier.Select(ToCandidate).ToList();
        var recipes = frontier.Select(p => RecipeText.Of(Allocation(p.Choice, byLayer, layers), request.Seed, ExportTargets.Name(request.Target))).ToList();
        log.Info(latencies is null
            ? $"search: predicted frontier of {points.Count} allocations from {points[0].BitsPerWeight:F3} to {points[^1].BitsPerWeight:F3} bits/weight"
            : $"search: predicted frontier of {points.Count} allocations from {points[0].PredictedLatency:F3}× to {points[^1].PredictedLatency:F3}× the FP32 latency");

        // In process: the points the budget asks about, and a spread for the plot.
        stage.Restart();
        int evaluated = 0;
        double InProcess(int i)
        {
            if (points[i].InProcessMetric is { } v) return v;
            cancellation.ThrowIfCancellationRequested();
            points[i].InProcessMetric = MeasureInProcess(Allocation(frontier[i].Choice, byLayer, layers), model, layers, trials, weights, evaluator, cancellation);
            evaluated++;
            log.Debug($"search: frontier point {i} ({points[i].BitsPerWeight:F3} bits/weight): {request.Keep.Metric} {points[i].InProcessMetric:G6} in process");
            return points[i].InProcessMetric!.Value;
        }
        bool Keeps(double v) => request.Keep.Holds(v, inProcessThreshold);
        // Compressed points (the all-float32 one has no step to run).
        var runnable = Enumerable.Range(0, points.Count).Where(i => RecipeText.Steps(Allocation(frontier[i].Choice, byLayer, layers)).Count > 0).ToList();
        if (runnable.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "search: no treatment applies to the selected layers");
        List<int> order;   // the end-to-end order
        using (var task = progress.Start("evaluating frontier points in process", PlotPoints + 16))
        {
            if (capacity is null)
            {
                // Bisection for the cheapest point that keeps the metric (the frontier's metric is nearly monotone in its cost).
                int lo = 0, hi = runnable.Count - 1;
                if (!Keeps(InProcess(runnable[hi]))) lo = hi;
                else
                    while (lo < hi)
                    {
                        int mid = (lo + hi) / 2;
                        task.Advance(1, $"{points[runnable[mid]].BitsPerWeight:F3} bits/weight");
                        if (Keeps(InProcess(runnable[mid]))) hi = mid; else lo = mid + 1;
                    }
                order = [.. runnable.Skip(lo)];
            }
            else
            {
                var within = runnable.Where(i => frontier[i].Cost <= capacity).ToList();
                foreach (var i in within.TakeLast(request.MaxCandidates * 2)) { InProcess(i); task.Advance(1); }
                order = within.TakeLast(request.MaxCandidates * 2)
                    .OrderByDescending(i => request.Keep.HigherIsBetter ? points[i].InProcessMetric : -points[i].InProcessMetric).ToList();
            }
            for (int k = 0; k < PlotPoints && runnable.Count > 0; k++)
            {
                InProcess(runnable[(int)Math.Round((double)k * (runnable.Count - 1) / Math.Max(1, PlotPoints - 1))]);
                task.Advance(1);
            }
        }
        timings["inProcess"] = Seconds(stage);
        log.Info($"search: {evaluated} frontier points evaluated in process");

        // End to end, through the ordinary pipeline.
        stage.Restart();
        var verified = new List<Candidate>();
        double? referenceMetric = null, threshold = null;
        bool MeetsBudget(Candidate c) => request.Budget.Limit is not { } lim || request.Budget.Kind switch
        {
            BudgetKind.Bits => c.BitsPerWeight <= lim + 1e-9,
            BudgetKind.Latency => c.SpeedUp is { } s && s > 0 && 1 / s <= lim + 1e-9,
            _ => c.OnnxBytes is { } b && b <= lim,
        };
        void Verify(int i)
        {
            var c = points[i];
            if (c.Verified || c.Error is not null) return;
            runner.Run(c, recipes[i], request.Keep, cancellation);
            if (c.OrtMetric is { } v)
            {
                referenceMetric ??= c.OrtReference;
                threshold = request.Keep.Threshold(c.OrtReference);
                c.MeetsKeep = request.Keep.Holds(v, threshold.Value);
                c.MeetsBudget = MeetsBudget(c);
            }
            verified.Add(c);
        }
        Candidate? chosen = null;
        if (capacity is null)
        {
            // Up the frontier from the bisection's point until one keeps the metric on ONNX Runtime, then down while
            // cheaper ones do. A candidate that misses on ONNX Runtime tells how far the in-process metric (other
            // samples, treated weights swapped in) sits from it: the next one tried is the cheapest point whose
            // in-process metric clears the threshold by that gap (found by bisection), not merely the next point.
            int start = order[0];
            int pos = runnable.IndexOf(start);
            for (int p = pos; p < runnable.Count && verified.Count < request.MaxCandidates;)
            {
                Verify(runnable[p]);
                var c = points[runnable[p]];
                if (c.MeetsKeep == true) { chosen = c; pos = p; break; }
                int next = p + 1;
                if (c.OrtMetric is { } ort && c.InProcessMetric is { } inProcess)
                {
                    double gap = Math.Max(0, request.Keep.HigherIsBetter ? inProcess - ort : ort - inProcess);
                    double shifted = inProcessThreshold + (request.Keep.HigherIsBetter ? gap : -gap);
                    int lo = p + 1, hi = runnable.Count - 1;
                    if (lo <= hi && request.Keep.Holds(InProcess(runnable[hi]), shifted))
                    {
                        while (lo < hi)
                        {
                            int mid = (lo + hi) / 2;
                            if (request.Keep.Holds(InProcess(runnable[mid]), shifted)) hi = mid; else lo = mid + 1;
                        }
                        next = lo;
                    }
                }
                p = next;
            }
            if (chosen is not null)
            {
                for (int p = pos - 1; p >= 0 && verified.Count < request.MaxCandidates; p--)
                {
                    Verify(runnable[p]);
                    if (points[runnable[p]].MeetsKeep == true) chosen = points[runnable[p]]; else break;
                }
                if (latencies is not null)
                {
                    // Predicted latencies add one-layer timings; the whole model can rank differently. The remaining
                    // candidates go to the next points up the frontier (predicted slower, less damaged), and the one
                    // with the best measured speed-up that keeps the metric wins.
                    for (int p = pos + 1; p < runnable.Count && verified.Count < request.MaxCandidates; p++) Verify(runnable[p]);
                    chosen = Fastest(verified.Where(c => c.MeetsKeep == true)) ?? chosen;
                }
            }
        }
        else
        {
            foreach (int i in order.Take(request.MaxCandidates)) Verify(i);
            var ok = verified.Where(c => c.MeetsKeep == true && c.MeetsBudget == true).ToList();
            chosen = ok.Count == 0 ? null : latencies is not null ? Fastest(ok) : request.Keep.HigherIsBetter ? ok.MaxBy(c => c.OrtMetric) : ok.MinBy(c => c.OrtMetric);
        }
        timings["endToEnd"] = Seconds(stage);
        timings["total"] = Seconds(clock);

        var choice = chosen is null ? null : frontier[points.IndexOf(chosen)].Choice;
        var layerRows = choice is null ? [] : LayerRows(choice, byLayer, layers, latencies);
        if (chosen is { SpeedUp: { } med, SpeedUpP25: { } p25, SpeedUpP75: { } p75 } && latencies is not null && p75 > 2 * p25)
            warnings.Add($"the chosen candidate's measured speed-up is noisy on this machine ({med:F2}× median, interquartile range {p25:F2}–{p75:F2}×): the choice among candidates whose ranges overlap is not reliable; rerun the search on a quiet machine (the cache keeps every trial)");
        if (latencies is not null)
            warnings.Add("latencies are timed on this machine (one-layer graphs and the input model, see latency); on a machine shared with other work they carry its noise, and the chosen point is the one whose measured speed-up (interleaved runs against the input model) is best among those that keep the metric");
        if (request.Keep.Metric is "accuracy" && evaluator.Samples < 200)
            warnings.Add($"the in-process accuracy is measured on {evaluator.Samples} samples: one sample is {100.0 / evaluator.Samples:F2} points");
        var report = new SearchReport(SearchReport.CurrentSchemaVersion, ToolInfo.Current, input, request.Data, request.Budget.ToString(), request.Keep.ToString(),
            threshold, referenceMetric, ExportTargets.Name(request.Target), request.Seed,
            treatments.Select(t => new TreatmentEntry(t.Id, t.Plugin, t.Options)).ToList(),
            new SensitivitySummary(mode.ToString().ToLowerInvariant(), reason, DamageText(request.Keep), evaluator.Samples, evaluator.ReferenceMetric, timings["sensitivity"],
                layerTrials.Where(t => t.Treatment != Treatment.Fp32.Id).ToList()),
            allocationSummary, layerRows,
            points.Where(p => p.InProcessMetric is not null || p.Verified || p.Error is not null).OrderBy(p => latencies is null ? p.WeightBits : p.PredictedLatency).ToList(),
            chosen?.Id, timings, warnings, latencies);

        if (chosen is null)
        {
            Directory.CreateDirectory(work);
            ResultJson.WriteFile(Path.Combine(work, ReportFile), report);
            SearchReportWriter.Write(report, work, log);
            throw new BudgetNotMetException(NotMet(request, verified, capacity is null ? points : [.. runnable.Where(i => frontier[i].Cost <= capacity).Select(i => points[i])],
                points.Where((_, i) => runnable.Contains(i)).FirstOrDefault()));
        }
        // The chosen run's outputs, as that run wrote them, and the search report.
        runner.EnsureOutputs(chosen, recipes[points.IndexOf(chosen)], request.Keep, cancellation);
        string from = runner.OutputOf(chosen.Id);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(from, file);
            if (rel.StartsWith('.')) continue;
            File.Copy(file, staging.PathOf(rel), overwrite: true);
        }
        ResultJson.WriteFile(staging.PathOf(ReportFile), report);
        SearchReportWriter.Write(report, staging.StagingDirectory, log);
        var files = staging.Commit();
        log.Info($"search: chose {chosen.Id}: {chosen.BitsPerWeight:F3} bits/weight{(chosen.SpeedUp is { } su ? $", {su:F2}× faster than FP32" : "")}, {request.Keep.Metric} {chosen.OrtMetric:G6} on ONNX Runtime (threshold {threshold:G6})");
        return new SearchResult(staging.OutputDirectory, files, report);
    }

    /// <summary>The keep metric of the input model with <paramref name="allocation"/> applied. When every treatment
    /// in it obtains its weights without a whole-model run of its own (<see cref="TrialScope.Layer"/>,
    /// <see cref="TrialScope.Joint"/>), the treated weights are put into the input model in place, evaluated and put
    /// back (a Joint treatment's weights are those of its one run over all layers, so they differ from the recipe's
    /// step by the earlier layers its Hessians saw treated); otherwise the allocation's recipe steps run on a copy.
    /// Either way the end-to-end candidates run the recipe itself.</summary>
    private static double MeasureInProcess(IReadOnlyList<(string Layer, Treatment Treatment)> allocation, CompressibleModel model, IReadOnlyList<SearchLayer> layers,
        TrialRunner trials, TreatedWeights weights, InProcessEvaluator evaluator, CancellationToken cancellation)
    {
        if (allocation.Any(a => !a.Treatment.IsFp32 && (a.Treatment.Scope == TrialScope.Model || a.Treatment.QuantizesInputs)))
        {
            using var m = trials.Apply(RecipeText.Steps(allocation), cancellation);
            return evaluator.Measure(m).Metric;
        }
        var treated = new List<(string Layer, TreatedWeight Weight)>();
        try
        {
            foreach (var (layer, treatment) in allocation)
            {
                if (treatment.IsFp32) continue;
                var w = weights.Of(layers.First(l => l.Name == layer), treatment, cancellation)
                    ?? throw new CompressException(ErrorKind.PluginFailed, $"search: {treatment.Id} no longer applies to {layer}");
                treated.Add((layer, w));
            }
            using (WeightSwap.Apply(model, treated.Select(t => (t.Layer, t.Weight.Dense))))
                return evaluator.Measure(model).Metric;
        }
        finally
        {
            foreach (var (_, w) in treated) w.Dispose();
        }
    }

    private (SensitivityMode Mode, string Reason) ResolveMode(SearchRequest request, SensitivityAnalysis analysis, CompressibleModel model, IReadOnlyList<SearchLayer> layers,
        IReadOnlyList<Treatment> treatments, CancellationToken cancellation)
    {
        if (request.Sensitivity == SensitivityMode.Measured) return (SensitivityMode.Measured, "--sensitivity measured");
        if (request.Sensitivity == SensitivityMode.Fisher) return (SensitivityMode.Fisher, "--sensitivity fisher");
        var compressing = treatments.Where(t => !t.IsFp32).ToList();
        // Time one trial of each plugin on the largest layer (a plugin's trial costs what its calibration costs); a
        // Joint treatment's plugin runs once for all layers, the others once per layer; every trial evaluates once.
        var largest = layers.MaxBy(l => l.Weights)!;
        double total = 0;
        foreach (var group in compressing.GroupBy(t => (t.Plugin, t.Scope)))
        {
            var (treat, measure) = analysis.TimeOneTrial(model, largest, group.First(), cancellation);
            total += group.Count() * ((group.Key.Scope == TrialScope.Joint ? treat : treat * layers.Count) + measure * layers.Count);
        }
        string estimate = $"measuring {compressing.Count * layers.Count} trials would take about {total:F0} s";
        return total <= request.SensitivitySeconds
            ? (SensitivityMode.Measured, $"{estimate}, within --sensitivity-time {request.SensitivitySeconds:G4} s")
            : (SensitivityMode.Fisher, $"{estimate}, over --sensitivity-time {request.SensitivitySeconds:G4} s: second-order estimate instead");
    }

    private static IReadOnlyList<(string Layer, Treatment Treatment)> Allocation(int[] choice, List<List<(LayerTrial Trial, Treatment Treatment)>> byLayer, IReadOnlyList<SearchLayer> layers) =>
        choice.Select((j, l) => (layers[l].Name, byLayer[l][j].Treatment)).ToList();

    /// <summary>The verified candidate with the best measured speed-up (ties: the less damaged), or null.</summary>
    private static Candidate? Fastest(IEnumerable<Candidate> candidates) =>
        candidates.Where(c => c.SpeedUp is not null).OrderByDescending(c => c.SpeedUp).ThenBy(c => c.PredictedDamage).FirstOrDefault();

    private static List<LayerChoice> LayerRows(int[] choice, List<List<(LayerTrial Trial, Treatment Treatment)>> byLayer, IReadOnlyList<SearchLayer> layers, LatencyTable? latencies)
    {
        var rows = new List<LayerChoice>();
        for (int l = 0; l < layers.Count; l++)
        {
            var (trial, treatment) = byLayer[l][choice[l]];
            if (latencies is not null)
            {
                double ms = latencies.Of(layers[l].Name, treatment.Id)!.Value;
                // The next faster option, and what it would add in damage.
                var faster = byLayer[l].Select(x => (x.Trial, x.Treatment, Ms: latencies.Of(layers[l].Name, x.Treatment.Id)!.Value))
                    .Where(x => x.Ms < ms).OrderByDescending(x => x.Ms).ThenBy(x => x.Trial.Damage).FirstOrDefault();
                double added = faster.Treatment is null ? 0 : Math.Max(0, faster.Trial.Damage) - Math.Max(0, trial.Damage);
                string whyFast = faster.Treatment is null
                    ? "the fastest treatment that applies to this layer"
                    : $"the next faster treatment, {faster.Treatment.Id} ({faster.Ms:G3} ms), would add damage {added:G3} ({added / Math.Max(1e-9, ms - faster.Ms):G3} per ms saved)";
                rows.Add(new LayerChoice(layers[l].Name, layers[l].Shape, layers[l].Weights, treatment.Id, trial.Bits, (double)trial.Bits / layers[l].Weights, trial.Damage, whyFast, Math.Round(ms, 6)));
                continue;
            }
            // The next cheaper option, and what it would add in damage.
            var cheaper = byLayer[l].Where(x => x.Trial.Bits < trial.Bits).OrderByDescending(x => x.Trial.Bits).ThenBy(x => x.Trial.Damage).FirstOrDefault();
            string why = cheaper.Treatment is null
                ? "the cheapest treatment that applies to this layer"
                : $"the next cheaper treatment, {cheaper.Treatment.Id} ({(double)cheaper.Trial.Bits / layers[l].Weights:F2} bits/weight), would add damage {Math.Max(0, cheaper.Trial.Damage) - Math.Max(0, trial.Damage):G3} " +
                  $"({(Math.Max(0, cheaper.Trial.Damage) - Math.Max(0, trial.Damage)) / Math.Max(1, trial.Bits - cheaper.Trial.Bits) * 1e6:G3} per million bits saved)";
            rows.Add(new LayerChoice(layers[l].Name, layers[l].Shape, layers[l].Weights, treatment.Id, trial.Bits, (double)trial.Bits / layers[l].Weights, trial.Damage, why));
        }
        return rows;
    }

    private static string NotMet(SearchRequest request, IReadOnlyList<Candidate> verified, IReadOnlyList<Candidate> points, Candidate? cheapest)
    {
        if (points.Count == 0)
            return request.Budget.Kind == BudgetKind.Latency
                ? $"search: no model meets --budget {request.Budget}: the fastest allocation of the treatments is predicted at {cheapest?.PredictedLatency:F3}× the FP32 latency (the best point reached: none within the budget)"
                : $"search: no model meets --budget {request.Budget}: the cheapest allocation of the treatments takes {cheapest?.BitsPerWeight:F3} bits/weight (the best point reached: none within the budget)";
        if (request.Budget.Kind == BudgetKind.Latency)
        {
            var fastest = verified.Where(c => c.OrtMetric is not null).OrderBy(c => c.MeetsKeep == true ? 0 : 1).ThenByDescending(c => c.SpeedUp ?? 0).FirstOrDefault();
            string at = fastest is not null
                ? $"{request.Keep.Metric} {fastest.OrtMetric:G6} on ONNX Runtime at {(fastest.SpeedUp is { } su ? $"{su:F2}× the FP32 speed (latency {1 / su:F3}×)" : "an unmeasured speed")} (candidate {fastest.Id})"
                : points.Where(p => p.InProcessMetric is not null).OrderBy(p => request.Keep.HigherIsBetter ? -p.InProcessMetric!.Value : p.InProcessMetric!.Value)
                    .Select(p => $"{request.Keep.Metric} {p.InProcessMetric:G6} in process at a predicted {p.PredictedLatency:F3}× the FP32 latency").FirstOrDefault() ?? "none";
            return $"search: no model meets --budget {request.Budget} with --keep {request.Keep}; the best point reached: {at}";
        }
        var best = verified.Where(c => c.OrtMetric is not null).OrderBy(c => c.MeetsKeep == true ? 0 : 1)
            .ThenBy(c => request.Keep.HigherIsBetter ? -c.OrtMetric!.Value : c.OrtMetric!.Value).FirstOrDefault();
        string point = best is not null
            ? $"{request.Keep.Metric} {best.OrtMetric:G6} on ONNX Runtime at {best.BitsPerWeight:F3} bits/weight{(best.OnnxBytes is { } b ? $", {b:N0} bytes" : "")} (candidate {best.Id})"
            : points.Where(p => p.InProcessMetric is not null).OrderBy(p => request.Keep.HigherIsBetter ? -p.InProcessMetric!.Value : p.InProcessMetric!.Value)
                .Select(p => $"{request.Keep.Metric} {p.InProcessMetric:G6} in process at {p.BitsPerWeight:F3} bits/weight").FirstOrDefault() ?? "none";
        return $"search: no model meets --budget {request.Budget} with --keep {request.Keep}; the best point reached: {point}";
    }

    private static string DamageText(KeepSpec keep) => keep.Metric switch
    {
        "cosine" => "1 - cosine to the input model's outputs",
        "perplexity" => "ln(perplexity / input model's perplexity)",
        _ => "mean KL divergence of the softmaxes from the input model's (nats)",
    };

    private static double Seconds(Stopwatch s) => ReportNumber.Seconds(s.Elapsed);

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
