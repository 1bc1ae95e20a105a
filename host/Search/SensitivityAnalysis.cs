using System.Diagnostics;
using System.Globalization;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Newtonsoft.Json;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Per layer and treatment: the storage bits and the damage of treating only that layer — measured (the input
/// model with that one layer's weight replaced in place by its treated weight, evaluated in process, then put back) or
/// estimated from the Fisher (the treated weight's error weighed by its Kronecker-factored Fisher, no evaluation). The treated
/// weights come from <see cref="TreatedWeights"/> (the plugin's own result, run as cheaply as the treatment allows). Every trial is appended to a cache file in the
/// work folder as soon as it is done, so an interrupted search resumes where it stopped.</summary>
public sealed class SensitivityAnalysis(TreatedWeights weights, InProcessEvaluator evaluator, IPluginLogger log, IProgressReporter progress, string cacheFile)
{
    /// <summary>Runs the analysis.</summary>
    /// <param name="pristine">The input model (for the Fisher pass, and evaluated with one weight swapped at a time: it is
    /// left bit for bit as it was).</param>
    /// <param name="layers">The searched layers.</param>
    /// <param name="treatments">The treatments (float32 included; its damage is 0 and its cost the float32 bits).</param>
    /// <param name="mode">Measured or Fisher (Auto is resolved by the caller).</param>
    /// <param name="keep">The keep metric (the Fisher's damage follows it).</param>
    /// <param name="fisherSamples">Samples of the Fisher pass.</param>
    /// <param name="seed">The seed of the Fisher's draws.</param>
    /// <param name="cancellation">Stops between trials.</param>
    public IReadOnlyList<LayerTrial> Run(CompressibleModel pristine, IReadOnlyList<SearchLayer> layers, IReadOnlyList<Treatment> treatments,
        SensitivityMode mode, KeepSpec keep, int fisherSamples, int seed, CancellationToken cancellation)
    {
        var cached = ReadCache();
        string source = mode == SensitivityMode.Fisher ? "fisher" : "measured";
        var result = new List<LayerTrial>();
        var todo = new List<(SearchLayer Layer, Treatment Treatment)>();
        foreach (var l in layers)
            foreach (var t in treatments)
            {
                if (t.IsFp32) { result.Add(new LayerTrial(l.Name, t.Id, l.Fp32Bits, 0, evaluator.ReferenceMetric, source, 0)); continue; }
                // A whole-model trial may have been measured on its copy in either mode (see below).
                if (cached.TryGetValue(Key(l.Name, t.Id, t.QuantizesInputs ? "measured" : source), out var hit)
                    || (t.Scope == TrialScope.Model && cached.TryGetValue(Key(l.Name, t.Id, "measured"), out hit))) { if (hit.Bits >= 0) result.Add(hit); continue; }
                todo.Add((l, t));
            }
        if (cached.Count > 0) log.Info($"search: {cached.Count} layer trials reused from {Path.GetFileName(cacheFile)}");
        Dictionary<string, LayerFisher>? fisher = null;
        try
        {
            if (mode == SensitivityMode.Fisher && todo.Any(x => !x.Treatment.QuantizesInputs))
            {
                using var pass = progress.Start($"Fisher information ({Math.Min(fisherSamples, evaluator.Samples)} samples)", Math.Min(fisherSamples, evaluator.Samples));
                fisher = FisherInformation.Diagonals(pristine, layers.Where(l => todo.Any(x => x.Layer == l && !x.Treatment.QuantizesInputs)).ToList(), evaluator, keep, fisherSamples, seed, cancellation, n => pass.Advance(n));
            }
            using var work = progress.Start($"sensitivity ({source}): {todo.Count} layer × treatment trials", todo.Count);
            foreach (var (layer, treatment) in todo)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                LayerTrial trial;
                TreatedWeight? treated;
                if (treatment.QuantizesInputs && treatment.Scope == TrialScope.Joint && weights.JointLayer(layer, treatment, cancellation) is { } module)
                {
                    // W8A8: the module of the treatment's one run over all linears replaces the float layer in place while
                    // the input model is evaluated (measured in either mode: the Fisher cannot see input quantization).
                    var original = pristine.GetLayer(layer.Name);
                    double metric, damage;
                    pristine.ReplaceLayer(layer.Name, module, disposeOld: false);
                    try { (metric, damage) = evaluator.Measure(pristine); }
                    finally { pristine.ReplaceLayer(layer.Name, original, disposeOld: false); }
                    trial = new LayerTrial(layer.Name, treatment.Id, ((ICompressedLayer)module).WeightStorageBits, damage, metric, "measured", clock.Elapsed.TotalSeconds);
                    Append(trial);
                    result.Add(trial);
                    work.Advance(1, $"{layer.Name} {treatment.Id}");
                    continue;
                }
                if (treatment.Scope == TrialScope.Model || treatment.QuantizesInputs)
                {
                    // The plugin runs on a copy with this layer selected. When the treatment is more than the layer's
                    // weight — input quantization (W8A8), or a change elsewhere (JLCM folds its row permutation into the
                    // consumers) — the copy itself is evaluated (measured in either mode); otherwise its weight is used as usual.
                    using var copy = weights.TreatedModel(layer, treatment, cancellation);
                    if (copy is not null && (treatment.QuantizesInputs || TreatedWeights.ChangedElsewhere(pristine, copy, layer.Name)))
                    {
                        var (metric, damage) = evaluator.Measure(copy);
                        trial = new LayerTrial(layer.Name, treatment.Id, TrialRunner.WeightBits(copy, layer.Name) ?? layer.Fp32Bits, damage, metric, "measured", clock.Elapsed.TotalSeconds);
                        Append(trial);
                        result.Add(trial);
                        work.Advance(1, $"{layer.Name} {treatment.Id}");
                        continue;
                    }
                    treated = copy is null ? null : TreatedWeights.WeightIn(copy, layer.Name);
                }
                else treated = weights.Of(layer, treatment, cancellation);
                using var treatedScope = treated;
                if (treated is null)
                    trial = new LayerTrial(layer.Name, treatment.Id, -1, 0, null, source, clock.Elapsed.TotalSeconds);   // the treatment does not apply here
                else if (fisher is not null)
                {
                    double damage = FisherInformation.Damage(fisher[layer.Name], WeightSwap.WeightOf(pristine, layer.Name), treated.Dense);
                    trial = new LayerTrial(layer.Name, treatment.Id, treated.Bits, damage, null, source, clock.Elapsed.TotalSeconds);
                }
                else
                {
                    double metric, damage;
                    using (WeightSwap.Apply(pristine, [(layer.Name, treated.Dense)]))
                        (metric, damage) = evaluator.Measure(pristine);
                    trial = new LayerTrial(layer.Name, treatment.Id, treated.Bits, damage, metric, source, clock.Elapsed.TotalSeconds);
                }
                Append(trial);
                if (trial.Bits >= 0) result.Add(trial);
                work.Advance(1, $"{layer.Name} {treatment.Id}");
            }
        }
        finally
        {
            if (fisher is not null) foreach (var f in fisher.Values) f.Dispose();
        }
        return result;
    }

    /// <summary>Seconds one measured trial of <paramref name="treatment"/> takes on <paramref name="layer"/> of
    /// <paramref name="pristine"/>: obtaining the treated weight (for a <see cref="TrialScope.Joint"/> treatment, its one
    /// run over all layers, which later trials reuse) and evaluating it (for <c>--sensitivity auto</c>).</summary>
    public (double Treat, double Measure) TimeOneTrial(CompressibleModel pristine, SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        if (treatment.QuantizesInputs)
        {
            using var copy = weights.TreatedModel(layer, treatment, cancellation);
            double made = clock.Elapsed.TotalSeconds;
            clock.Restart();
            if (copy is not null) evaluator.Measure(copy);
            return (made, clock.Elapsed.TotalSeconds);
        }
        using var treated = weights.Of(layer, treatment, cancellation);
        double treat = clock.Elapsed.TotalSeconds;
        clock.Restart();
        if (treated is null) return (treat, 0);   // does not apply: what refusing cost
        using (WeightSwap.Apply(pristine, [(layer.Name, treated.Dense)]))
            evaluator.Measure(pristine);
        return (treat, clock.Elapsed.TotalSeconds);
    }

    private static string Key(string layer, string treatment, string source) => source + "\u0001" + layer + "\u0001" + treatment;

    private Dictionary<string, LayerTrial> ReadCache()
    {
        var map = new Dictionary<string, LayerTrial>(StringComparer.Ordinal);
        if (!File.Exists(cacheFile)) return map;
        foreach (var line in File.ReadLines(cacheFile))
        {
            try
            {
                if (JsonConvert.DeserializeObject<LayerTrial>(line) is { } t) map[Key(t.Layer, t.Treatment, t.Source)] = t;
            }
            catch (JsonException) { /* a line cut by an interruption: that trial runs again */ }
        }
        return map;
    }

    private void Append(LayerTrial trial)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cacheFile)!);
            File.AppendAllText(cacheFile, JsonConvert.SerializeObject(trial, new JsonSerializerSettings { Culture = CultureInfo.InvariantCulture }) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write the search cache {cacheFile}: {e.Message}");
        }
    }
}
