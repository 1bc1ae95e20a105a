using System.Diagnostics;
using System.Globalization;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Newtonsoft.Json;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Per layer and treatment: the storage bits and the damage of treating only that layer — measured (the model
/// with that one layer treated, evaluated in process) or estimated from the Fisher diagonal (the layer treated the
/// same way, its weight error weighed by the Fisher, no evaluation). Every trial is appended to a cache file in the
/// work folder as soon as it is done, so an interrupted search resumes where it stopped.</summary>
public sealed class SensitivityAnalysis(TrialRunner trials, InProcessEvaluator evaluator, IPluginLogger log, IProgressReporter progress, string cacheFile)
{
    /// <summary>Runs the analysis.</summary>
    /// <param name="pristine">The input model (for the Fisher pass).</param>
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
                if (cached.TryGetValue(Key(l.Name, t.Id, source), out var hit)) { if (hit.Bits >= 0) result.Add(hit); continue; }
                todo.Add((l, t));
            }
        if (cached.Count > 0) log.Info($"search: {cached.Count} layer trials reused from {Path.GetFileName(cacheFile)}");
        Dictionary<string, Tensor>? fisher = null;
        try
        {
            if (mode == SensitivityMode.Fisher && todo.Count > 0)
            {
                using var pass = progress.Start($"Fisher information ({Math.Min(fisherSamples, evaluator.Samples)} samples)", Math.Min(fisherSamples, evaluator.Samples));
                fisher = FisherInformation.Diagonals(pristine, layers.Where(l => todo.Any(x => x.Layer == l)).ToList(), evaluator, keep, fisherSamples, seed, cancellation, n => pass.Advance(n));
            }
            using var work = progress.Start($"sensitivity ({source}): {todo.Count} layer × treatment trials", todo.Count);
            foreach (var (layer, treatment) in todo)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                CompressibleModel? applied;
                // A plugin that refuses the layer (sparsity's structures apply to feed-forward linears only) makes the
                // treatment not apply to it.
                try { applied = trials.Apply([(treatment, [layer.Name])], cancellation); }
                catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
                {
                    log.Debug($"search: {treatment.Id} does not apply to {layer.Name}: {e.Message}");
                    applied = null;
                }
                using var model = applied;
                LayerTrial trial;
                if (model is null || TrialRunner.WeightBits(model, layer.Name) is not { } bits)
                    trial = new LayerTrial(layer.Name, treatment.Id, -1, 0, null, source, clock.Elapsed.TotalSeconds);   // the treatment does not apply here
                else if (fisher is not null)
                {
                    using var scope = NewDisposeScope();
                    using var dense = ((ICompressedLayer)model.GetLayer(layer.Name)).DenseWeight();
                    var original = pristine.GetLayer(layer.Name).named_parameters(recurse: false).First(p => p.name == "weight").parameter;
                    double damage = FisherInformation.Damage(fisher[layer.Name], original, dense);
                    trial = new LayerTrial(layer.Name, treatment.Id, bits, damage, null, source, clock.Elapsed.TotalSeconds);
                }
                else
                {
                    var (metric, damage) = evaluator.Measure(model);
                    trial = new LayerTrial(layer.Name, treatment.Id, bits, damage, metric, source, clock.Elapsed.TotalSeconds);
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

    /// <summary>Seconds one measured trial takes, timed on the first layer with the first treatment (for <c>--sensitivity auto</c>).</summary>
    public double TimeOneTrial(SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        CompressibleModel model;
        try { model = trials.Apply([(treatment, [layer.Name])], cancellation); }
        catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions) { return clock.Elapsed.TotalSeconds; }   // does not apply: what refusing cost
        using (model) evaluator.Measure(model);
        return clock.Elapsed.TotalSeconds;
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
