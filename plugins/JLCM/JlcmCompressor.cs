using System.Diagnostics;
using Compressor.Sdk;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.JLCM;

/// <summary>The end-to-end procedure ([RECON] ALGORITHMS.md §2.7), streaming layer by layer in module order: collect
/// the layer's input statistics from the model with every earlier layer already compressed; group its rows and fold
/// the re-ordering into its consumer where that provably keeps the outputs (else store it); k-means-initialise the
/// grouped codebook; learn it jointly (method jlcm); replace the layer; save it to the work folder (resumable). The
/// baselines (kmeans, rtn) share the same loop. The reconstruction unit is one layer's output, not a multi-layer
/// block (see the README).</summary>
public static class JlcmCompressor
{
    /// <summary>Compresses the selected layers of <paramref name="context"/>'s model.</summary>
    public static void Run(PluginContext context, JlcmOptions options)
    {
        var model = context.Model;
        if (!model.IsExecutable) throw new CompressException(ErrorKind.InvalidInput, "jlcm: needs an executable model (calibration forwards); pass --arch");
        var data = context.Data.Calibration ?? context.Data.Train
            ?? throw new CompressException(ErrorKind.InvalidInput, "jlcm: needs calibration data: pass --data");
        var selector = new LayerSelector(options.Include, options.Exclude);
        var all = model.Layers();
        var targets = all.Where(l => (l.Kind == LayerKind.Linear || (l.Kind == LayerKind.Conv2d && l.Module is TorchSharp.Modules.Conv2d { groups: 1 }))
                                     && selector.Matches(l.Name)).ToList();
        foreach (var skipped in all.Where(l => l.Kind == LayerKind.Conv2d && selector.Matches(l.Name) && !targets.Contains(l)))
            context.Report.Warn($"jlcm: {skipped.Name} is a grouped convolution; left uncompressed");
        if (targets.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "jlcm: no linear or conv layer matches --include/--exclude");

        var clock = Stopwatch.StartNew();
        using var feeder = new CalibrationFeeder(data, options.CalibrationSamples, options.BatchSize, context.Seed) { Device = context.Device };
        string fingerprint = OptionsSchema.For(typeof(JlcmOptions)).ToJson(options).ToString(Newtonsoft.Json.Formatting.None)
                             + "|" + string.Join(",", targets.Select(t => t.Name)) + "|seed " + context.Seed + "|samples " + feeder.Samples;
        var store = new ResumeStore(Path.Combine(context.WorkDirectory, "layers"), fingerprint);
        context.Log.Info($"jlcm: {targets.Count} layer(s), method {Naming.ToKebab(options.Method.ToString())}, {options.Bits}-bit, G = {options.Groups}, " +
                         $"variant {Naming.ToKebab(options.Variant.ToString())}, gradient {Naming.ToKebab(options.Gradient.ToString())}, {feeder.Samples} calibration samples");

        var moves = new IndexMoveStats();
        long weights = 0, storageBits = 0, accountedBits = 0, folded = 0, explicitPerms = 0, resumed = 0;
        double lossInit = 0, lossFinal = 0;
        using var progress = context.Progress.Start("jlcm: compress layers", targets.Count);
        bool training = model.Module.training;
        model.Module.eval();
        try
        {
            for (int i = 0; i < targets.Count; i++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                var info = targets[i];
                var current = model.Layers();   // the live list (earlier layers are compressed now)
                var live = current.First(l => l.Name == info.Name);
                using var scope = NewDisposeScope();
                ResumeStore.Entry entry;
                nn.Module replacement;
                Tensor original;
                if (store.Find(i, info.Name) is { } saved)
                {
                    if (saved.Consumer is not null) PermutationFolding.PermuteColumns(model.GetLayer(saved.Consumer), tensor(saved.Order!));
                    if (saved.Order is not null) PermutationFolding.PermuteRows(live.Module, tensor(saved.Order));
                    original = WeightOf(live.Module).clone();
                    replacement = store.Load(i, saved);
                    entry = saved;
                    resumed++;
                }
                else
                {
                    (entry, replacement, original) = CompressLayer(context, options, model, feeder, current, current.ToList().IndexOf(live), i);
                    store.Save(i, entry, replacement);
                }
                var compressed = (ICompressedLayer)replacement;
                context.Report.AddLayer(info.Name, compressed, original);
                weights += info.WeightCount;
                storageBits += compressed.WeightStorageBits;
                accountedBits += compressed is CodebookLayer cl ? cl.AccountedBits : compressed.WeightStorageBits;
                if (entry.Consumer is not null) folded++;
                if (compressed is CodebookLayer { Permuted: true }) explicitPerms++;
                lossInit += (double?)entry.Stats["initialLoss"] ?? 0;
                lossFinal += (double?)entry.Stats["finalLoss"] ?? 0;
                if (entry.Stats["moves"] is JObject mv) moves.Accumulate(FromJson(mv), 1.0 / targets.Count);
                replacement.to(context.Device);
                model.ReplaceLayer(info.Name, replacement);
                progress.Advance(1, info.Name);
            }
        }
        finally
        {
            model.Module.train(training);
        }

        var r = context.Report;
        r.AddMetric(new Metric("bitsPerWeight", (double)storageBits / weights, "bits"));
        r.AddMetric(new Metric("accountedBitsPerWeight", (double)accountedBits / weights, "bits"));
        r.AddMetric(new Metric("compressedWeights", weights, "weights"));
        r.AddMetric(new Metric("permutationsFolded", folded, "layers"));
        r.AddMetric(new Metric("permutationsStored", explicitPerms, "layers"));
        r.AddMetric(new Metric("reconstructionLossInit", lossInit, "sum over layers"));
        r.AddMetric(new Metric("reconstructionLoss", lossFinal, "sum over layers"));
        r.AddMetric(new Metric("calibrationSamples", feeder.Samples, "samples"));
        r.AddMetric(new Metric("resumedLayers", resumed, "layers"));
        r.AddMetric(new Metric("compressionSeconds", clock.Elapsed.TotalSeconds, "s"));
        if (moves.MovesOne.Count > 0)
        {
            var x = Enumerable.Range(1, moves.MovesOne.Count).Select(v => (double)v).ToList();
            r.AddSeries(new Series("indexMoves1", x, moves.MovesOne.Select(v => (double)v).ToList(), "update", "indices moved by 1 (all layers)"));
            r.AddSeries(new Series("indexMoves2", x, moves.MovesTwo.Select(v => (double)v).ToList(), "update", "indices moved by 2 (all layers)"));
            r.AddSeries(new Series("indexMoves3Plus", x, moves.MovesThreeOrMore.Select(v => (double)v).ToList(), "update", "indices moved by 3 or more (all layers)"));
            r.AddSeries(new Series("extremeCodewordShare", x, moves.ExtremeShare.ToList(), "update", "share of weights on codeword 0 or K-1 (mean over layers)"));
            r.AddMetric(new Metric("unitMoveShare", moves.ShareOfUnitMoves, "fraction"));
        }
        context.Log.Info($"jlcm: {(double)storageBits / weights:F4} bits/weight stored ({(double)accountedBits / weights:F4} by §2.2), " +
                         $"{folded} permutation(s) folded, {explicitPerms} stored, loss {lossInit:G4} → {lossFinal:G4}, {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Compresses one layer (the live module at <paramref name="index"/> of <paramref name="layers"/>).</summary>
    private static (ResumeStore.Entry Entry, nn.Module Replacement, Tensor Original) CompressLayer(PluginContext context, JlcmOptions options,
        CompressibleModel model, CalibrationFeeder feeder, IReadOnlyList<LayerInfo> layers, int index, int ordinal)
    {
        var info = layers[index];
        var module = info.Module;
        var stats = new JObject();
        if (options.Method == JlcmMethod.Rtn)
        {
            var q = RtnBaseline.Quantize(module, options.Bits);
            var w0 = WeightOf(module).clone();
            using var hq = InputStatistics(model, info, feeder, options.Damping, context.Cancellation);
            stats["initialLoss"] = stats["finalLoss"] = JointLearner.Loss(((ICompressedLayer)q).DenseWeight().flatten(1), w0.flatten(1), hq);
            return (new ResumeStore.Entry(info.Name, ((ICompressedLayer)q).Kind, ((ICompressedLayer)q).Config, null, null, stats), q, w0);
        }

        using var h = InputStatistics(model, info, feeder, options.Damping, context.Cancellation);
        var w = WeightOf(module).flatten(1).cpu();
        long rows = w.shape[0];
        int groups = (int)Math.Min(options.Groups, rows);
        long seed = context.Seed * 1_000_003L + ordinal;
        long[]? order = null;
        string? consumer = null;
        Tensor? rowOrder = null;
        if (options.Permutation != PermutationMode.None && groups > 1)
        {
            var candidate = RowGrouping.Order(w, groups, options.Grouping, options.RowStatistic, options.KmeansIterations);
            if (!candidate.Select((v, j) => v == j).All(b => b))
            {
                var perm = tensor(candidate);
                if (options.Permutation == PermutationMode.Fold)
                    consumer = PermutationFolding.TryFold(model, layers, index, perm, () => feeder.Run(model, 0));
                if (consumer is not null) order = candidate;
                else rowOrder = perm.argsort();   // original row j is stored row rowOrder[j]
                w = consumer is not null ? WeightOf(module).flatten(1).cpu() : w.index_select(0, perm);
            }
        }
        var bias = BiasOf(module)?.cpu();   // original order unless folded (then permuted along with the rows)

        using var cb = GroupedCodebook.Initialise(w, options.Bits, groups, options.Variant, options.Init, options.KmeansIterations, seed);
        var moves = new IndexMoveStats();
        double initial, final;
        if (options.Method == JlcmMethod.Jlcm)
        {
            var result = JointLearner.Learn(cb, w, h, options.Iterations, options.Lr, options.CodebookLr, options.Gradient, context.Cancellation);
            (initial, final, moves) = (result.InitialLoss, result.FinalLoss, result.Moves);
        }
        else
        {
            using var approx = cb.Weight();
            initial = final = JointLearner.Loss(approx, w, h);
        }
        var layer = cb.ToLayer(module, rowOrder, bias);
        // The exact loss of what is stored (codebooks and scales rounded to fp16).
        using (var dense = ((ICompressedLayer)layer).DenseWeight())
        {
            var storedOrder = rowOrder is null ? dense.flatten(1) : dense.flatten(1).index_select(0, rowOrder.argsort());
            final = JointLearner.Loss(storedOrder, w, h);
        }
        stats["initialLoss"] = initial;
        stats["finalLoss"] = final;
        stats["moves"] = ToJson(moves);
        context.Log.Debug($"jlcm: {info.Name} [{rows}x{w.shape[1]}] loss {initial:G4} → {final:G4}, permutation {(consumer is not null ? "folded into " + consumer : rowOrder is not null ? "stored" : "none")}, " +
                          $"±1 moves {moves.ShareOfUnitMoves:P1}");
        var c = (ICompressedLayer)layer;
        return (new ResumeStore.Entry(info.Name, c.Kind, c.Config, consumer, order, stats), layer, WeightOf(module).clone());
    }

    /// <summary>H = XᵀX/N of the layer's inputs, from a calibration pass through the current model, plus damping·mean(diag H)·I.</summary>
    private static Tensor InputStatistics(CompressibleModel model, LayerInfo info, CalibrationFeeder feeder, double damping, CancellationToken cancellation)
    {
        var wrapper = new LayerInputStatistics((nn.Module<Tensor, Tensor>)info.Module);
        model.ReplaceLayer(info.Name, wrapper, disposeOld: false);
        try
        {
            feeder.RunAll(model, cancellation);
            var h = wrapper.Hessian().cpu();
            if (damping > 0) h = h.add(eye(h.shape[0]).mul(damping * h.diagonal().mean().item<float>()));
            return h.MoveToOuterDisposeScope();
        }
        finally
        {
            model.ReplaceLayer(info.Name, info.Module, disposeOld: false);
            wrapper.Dispose();
        }
    }

    private static Tensor WeightOf(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => l.weight!.detach(),
        TorchSharp.Modules.Conv2d c => c.weight!.detach(),
        _ => throw new ArgumentException($"jlcm: unsupported layer {m.GetType().Name}"),
    };

    private static Tensor? BiasOf(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => l.bias?.detach(),
        TorchSharp.Modules.Conv2d c => c.bias?.detach(),
        _ => null,
    };

    private static JObject ToJson(IndexMoveStats s) => new()
    {
        ["one"] = new JArray(s.MovesOne), ["two"] = new JArray(s.MovesTwo), ["more"] = new JArray(s.MovesThreeOrMore), ["extreme"] = new JArray(s.ExtremeShare),
    };

    private static IndexMoveStats FromJson(JObject o)
    {
        var s = new IndexMoveStats();
        s.MovesOne.AddRange(o["one"]!.Select(x => (long)x));
        s.MovesTwo.AddRange(o["two"]!.Select(x => (long)x));
        s.MovesThreeOrMore.AddRange(o["more"]!.Select(x => (long)x));
        s.ExtremeShare.AddRange(o["extreme"]!.Select(x => (double)x));
        return s;
    }
}
