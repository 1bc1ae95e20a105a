using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Diagnostics;
using Compressor.Layers.Calibration;
using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The end-to-end procedure (README "The procedure"). Block objective (models that can be cut into blocks:
/// imported ONNX graphs): blocks are cut from the model (<see cref="CompressibleModel.FindBlocks"/>) and streamed in execution order: capture the block's inputs from the
/// model with every earlier block already compressed; for each of its layers group the rows, fold the re-ordering
/// into the consumer where that provably keeps the outputs (else store it) and k-means-initialise the grouped
/// codebook; compute the block's FP outputs on those inputs; learn all its layers jointly on the block output
/// (<see cref="BlockLearner"/>); replace them; save them to the resume store (resumable per block). Layer objective:
/// the same per layer in module order, on the layer's input statistics (<see cref="JointLearner"/>). The baselines
/// (kmeans, rtn) share both loops.</summary>
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
        var targets = all.Where(l => (l.Type == LayerType.Linear || (l.Type == LayerType.Conv2d && l.Module is TorchSharp.Modules.Conv2d { groups: 1 }))
                                     && selector.Matches(l.Name)).ToList();
        foreach (var skipped in all.Where(l => l.Type == LayerType.Conv2d && selector.Matches(l.Name) && !targets.Contains(l)))
            context.Report.Warn($"jlcm: {skipped.Name} is a grouped convolution; left uncompressed");
        if (targets.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "jlcm: no linear or conv layer matches --include/--exclude");

        var clock = Stopwatch.StartNew();
        using var feeder = new CalibrationFeeder(data, options.CalibrationSamples, options.BatchSize, context.Seed, "jlcm") { Device = context.Device };
        if (feeder.Samples < options.CalibrationSamples)
            context.Report.Warn($"jlcm: the calibration data {data.Name} holds {feeder.Samples} samples, fewer than --calibration-samples {options.CalibrationSamples}; " +
                                "using all of them (a --data source takes ,calibration=N for a larger calibration split)");
        // Auto: the block objective wherever the model can be cut into blocks (imported graphs), else the layer objective.
        IReadOnlyList<ModelBlock>? blocks = null;
        if (options.Objective != ReconstructionObjective.Layer)
        {
            using var scope = NewDisposeScope();
            blocks = model.FindBlocks(targets.Select(t => t.Name).ToList(), feeder.Inputs(model, 0));
            if (blocks is null && options.Objective == ReconstructionObjective.Block)
                throw new CompressException(ErrorKind.InvalidOptions,
                    $"jlcm: --objective block needs a model that can be cut into blocks (an imported ONNX graph), not {model.ArchitectureName ?? "this model"}; use --objective layer");
        }
        bool byBlock = blocks is not null;
        string fingerprint = JsonSerializer.Serialize(options) + "|" + string.Join(",", targets.Select(t => t.Name)) + "|seed " + context.Seed
                             + "|samples " + feeder.Samples + "|objective " + (byBlock ? "block" : "layer");
        var store = new SavedLayers(context.Resume.Section("layers", fingerprint));
        context.Log.Info($"jlcm: {targets.Count} layer(s){(blocks is null ? "" : $" in {blocks.Count} block(s)")}, method {Kebab(options.Method)}, {options.WeightBits}-bit, G = {options.Groups}, " +
                         $"variant {Kebab(options.Variant)}, gradient {Kebab(options.Gradient)}, objective {(byBlock ? "block" : "layer")}, {feeder.Samples} calibration samples");

        var tally = new Tally(context, targets.Count);
        using var progress = context.Progress.Start("jlcm: compress layers", targets.Count);
        bool training = model.Module.training;
        model.Module.eval();
        try
        {
            if (blocks is null)
            {
                for (int i = 0; i < targets.Count; i++)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    if (!Replay(model, store, targets, i, tally))
                    {
                        var current = model.Layers();   // the live list (earlier layers are compressed now)
                        var (entry, replacement, original) = CompressLayer(context, options, model, feeder, current, IndexOf(current, targets[i].Name));
                        store.Save(i, entry, replacement);
                        Commit(context, model, targets[i], entry, replacement, original, tally);
                    }
                    progress.Advance(1, targets[i].Name);
                }
            }
            else
            {
                foreach (var block in blocks)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    var ordinals = block.Layers.Select(n => targets.FindIndex(t => t.Name == n)).ToList();
                    using var scope = NewDisposeScope();
                    if (ordinals.All(i => store.Contains(i, targets[i].Name)))
                        foreach (int i in ordinals) Replay(model, store, targets, i, tally);
                    else
                        CompressBlock(context, options, model, feeder, block, targets, ordinals, store, tally);
                    progress.Advance(ordinals.Count, block.Layers[^1]);
                }
            }
        }
        finally
        {
            model.Module.train(training);
        }
        tally.Report(feeder.Samples, clock.Elapsed.TotalSeconds, byBlock);
    }

    /// <summary>The k-means seed of one layer: the run's seed and the layer's name (FNV-1a), not its position among
    /// the targets, so that a layer gets the same codebook whether the model is compressed whole or one transformer
    /// block at a time (a streamed run sees only the block's layers, under the whole model's names).</summary>
    public static long LayerSeed(int seed, string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in name)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return seed * 1_000_003L + (long)(h >> 33);
    }

    /// <summary>Samples a fold is checked on: a wrong fold changes the outputs of every input by O(1), far above the
    /// 1e-5 threshold, so a few samples decide it as surely as a full batch, at a fraction of the forwards.</summary>
    private const int FoldCheckSamples = 4;

    private static int IndexOf(IReadOnlyList<LayerInfo> layers, string name) => layers.ToList().FindIndex(l => l.Name == name);

    /// <summary>Replays layer <paramref name="i"/> from the work folder when it is there.</summary>
    private static bool Replay(CompressibleModel model, SavedLayers store, IReadOnlyList<LayerInfo> targets, int i, Tally tally)
    {
        var info = targets[i];
        if (store.Find(i, info.Name) is not { } saved) return false;
        var (replacement, outcome) = saved;
        var live = model.Layers().First(l => l.Name == info.Name);
        if (outcome.Consumer is not null) PermutationFolding.PermuteColumns(model.GetLayer(outcome.Consumer), tensor(outcome.Order!, device: WeightOf(live.Module).device));
        if (outcome.Order is not null) PermutationFolding.PermuteRows(live.Module, tensor(outcome.Order, device: WeightOf(live.Module).device));
        var original = WeightOf(live.Module).clone();
        tally.Resumed++;
        Commit(tally.Context, model, info, outcome, replacement, original, tally);
        return true;
    }

    /// <summary>Reports a finished layer and puts it into the model.</summary>
    private static void Commit(PluginContext context, CompressibleModel model, LayerInfo info, LayerOutcome entry, nn.Module replacement, Tensor original, Tally tally)
    {
        tally.Add(info, entry, (ICompressedLayer)replacement, original);
        replacement.to(context.Device);
        model.ReplaceLayer(info.Name, replacement);
    }

    /// <summary>A layer after grouping, folding and k-means initialisation (or RTN), before learning.</summary>
    private sealed record Prepared(LayerInfo Info, GroupedCodebook? Codebook, nn.Module? Rtn, Tensor Weight, Tensor? RowOrder, string? Consumer, long[]? Order, Tensor? Bias);

    /// <summary>Groups the rows of the live layer at <paramref name="index"/>, folds or stores the re-ordering and
    /// k-means-initialises its codebook (method rtn: quantizes it).</summary>
    private static Prepared Prepare(PluginContext context, JlcmOptions options, CompressibleModel model, CalibrationFeeder feeder,
        IReadOnlyList<LayerInfo> layers, int index, Tensor? hessian = null)
    {
        var info = layers[index];
        var module = info.Module;
        if (options.Method == JlcmMethod.Rtn)
            return new Prepared(info, null, RtnBaseline.Quantize(module, options.WeightBits), WeightOf(module).flatten(1), null, null, null, null);
        var w = WeightOf(module).flatten(1);   // on the model's device: grouping, k-means and learning run there
        long rows = w.shape[0];
        int groups = (int)Math.Min(options.Groups, rows);
        long seed = LayerSeed(context.Seed, info.Name);
        long[]? order = null;
        string? consumer = null;
        Tensor? rowOrder = null;
        if (options.Permutation != PermutationMode.None && groups > 1)
        {
            var candidate = RowGrouping.Order(w, groups, options.Grouping, options.RowStatistic, options.KmeansIterations);
            if (!candidate.Select((v, j) => v == j).All(b => b))
            {
                var perm = tensor(candidate, device: w.device);
                if (options.Permutation == PermutationMode.Fold)
                    consumer = PermutationFolding.TryFold(model, layers, index, perm, () => feeder.Run(model, 0, FoldCheckSamples));
                if (consumer is not null) order = candidate;
                else rowOrder = perm.argsort();   // original row j is stored row rowOrder[j]
                w = consumer is not null ? WeightOf(module).flatten(1) : w.index_select(0, perm);
            }
        }
        var bias = BiasOf(module);   // original order unless folded (then permuted along with the rows)
        // --init gptq needs the layer's input statistics; the block objective has them only once the whole block is
        // prepared (a fold may permute a later layer's inputs), so it starts from k-means and re-initialises then.
        var init = options.Init == CodebookInit.Gptq && hessian is null ? CodebookInit.PlusPlus : options.Init;
        var cb = GroupedCodebook.Initialise(w, options.WeightBits, groups, options.Variant, init, options.KmeansIterations, seed, hessian);
        return new Prepared(info, cb, null, w, rowOrder, consumer, order, bias);
    }

    /// <summary>The finished layer of a prepared one and its resume entry.</summary>
    private static (LayerOutcome Entry, nn.Module Layer) Finish(Prepared p, IndexMoveStats? moves)
    {
        var layer = p.Rtn ?? p.Codebook!.ToLayer(p.Info.Module, p.RowOrder, p.Bias);
        return (new LayerOutcome { Name = p.Info.Name, Consumer = p.Consumer, Order = p.Order, Moves = moves is null ? null : MoveCounts.Of(moves) }, layer);
    }

    /// <summary>Compresses one layer (the live module at <paramref name="index"/> of <paramref name="layers"/>) on its own output.</summary>
    private static (LayerOutcome Entry, nn.Module Replacement, Tensor Original) CompressLayer(PluginContext context, JlcmOptions options,
        CompressibleModel model, CalibrationFeeder feeder, IReadOnlyList<LayerInfo> layers, int index)
    {
        var info = layers[index];
        using var h = InputStatistics(model, info, feeder, options.Damping, context.Cancellation);
        var p = Prepare(context, options, model, feeder, layers, index, h);
        var moves = new IndexMoveStats();
        double initial = double.NaN;
        if (p.Codebook is { } cb)
        {
            if (options.Method == JlcmMethod.Jlcm)
            {
                var result = JointLearner.Learn(cb, p.Weight, h, options.Iterations, options.LearningRate, options.CodebookLearningRate, options.Gradient, context.Cancellation);
                (initial, moves) = (result.InitialLoss, result.Moves);
            }
            else
            {
                using var approx = cb.Weight();
                initial = JointLearner.Loss(approx, p.Weight, h);
            }
        }
        var (entry, layer) = Finish(p, moves);
        // The exact loss of what is stored (codebooks and scales rounded to fp16).
        double final;
        using (var dense = ((ICompressedLayer)layer).DenseWeight())
        {
            var storedOrder = p.RowOrder is null ? dense.flatten(1) : dense.flatten(1).index_select(0, p.RowOrder.argsort());
            final = JointLearner.Loss(storedOrder, p.Weight, h);
        }
        entry.InitialLoss = double.IsNaN(initial) ? final : initial;
        entry.FinalLoss = final;
        using (var zero = zeros_like(p.Weight)) entry.RelativeLoss = final / Math.Max(1e-30, JointLearner.Loss(zero, p.Weight, h));
        p.Codebook?.Dispose();
        context.Log.Debug($"jlcm: {info.Name} [{p.Weight.shape[0]}x{p.Weight.shape[1]}] loss {entry.InitialLoss:G4} → {final:G4}, permutation " +
                          $"{(p.Consumer is not null ? "folded into " + p.Consumer : p.RowOrder is not null ? "stored" : "none")}, ±1 moves {moves.ShareOfUnitMoves:P1}");
        return (entry, layer, WeightOf(info.Module).clone());
    }

    /// <summary>Compresses the layers of one block on the block's output and commits them.</summary>
    private static void CompressBlock(PluginContext context, JlcmOptions options, CompressibleModel model, CalibrationFeeder feeder,
        ModelBlock block, IReadOnlyList<LayerInfo> targets, IReadOnlyList<int> ordinals, SavedLayers store, Tally tally)
    {
        // The block's inputs, computed by the model with every earlier block compressed.
        var inputs = new List<Dictionary<string, Tensor>>();
        using (no_grad())
            for (int b = 0; b < feeder.BatchCount; b++)
                inputs.Add(model.RunValues(feeder.Inputs(model, b), block.Inputs).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
        var prepared = new List<Prepared>();
        foreach (int i in ordinals)
        {
            var current = model.Layers();
            prepared.Add(Prepare(context, options, model, feeder, current, IndexOf(current, targets[i].Name)));
        }
        if (options.Init == CodebookInit.Gptq && options.Method != JlcmMethod.Rtn) ReinitialiseWithGptq(options, model, block, inputs, prepared, ordinals, context.Seed);
        var targetsOut = BlockLearner.Targets(model, block, inputs);
        var originals = prepared.Select(p => WeightOf(p.Info.Module).clone()).ToList();
        double initial = double.NaN;
        IReadOnlyList<IndexMoveStats> moves = prepared.Select(_ => new IndexMoveStats()).ToList();
        if (options.Method != JlcmMethod.Rtn)
        {
            var layers = prepared.Select(p => new BlockLearner.Layer(p.Info.Name, p.Codebook!, (nn.Module<Tensor, Tensor>)model.GetLayer(p.Info.Name), p.RowOrder)).ToList();
            var result = BlockLearner.Learn(model, block, inputs, targetsOut, layers, options.Method == JlcmMethod.Jlcm ? options.Iterations : 0,
                options.LearningRate, options.CodebookLearningRate, options.Gradient, context.Device, context.Cancellation, correctBiases: options.BiasCorrection);
            (initial, moves) = (result.InitialLoss, result.Moves);
            for (int j = 0; j < prepared.Count; j++)
                if (result.BiasCorrections[j] is { } correction)
                    prepared[j] = prepared[j] with { Bias = prepared[j].Bias is { } b ? b.add(correction) : correction };
        }
        var finished = prepared.Select((p, j) => Finish(p, moves[j])).ToList();
        // Put the finished layers in (keeping the FP ones) for the exact loss of what is stored.
        for (int j = 0; j < prepared.Count; j++) model.ReplaceLayer(prepared[j].Info.Name, finished[j].Layer.to(context.Device), disposeOld: false);
        double final = BlockLearner.Loss(model, block, inputs, targetsOut), power = BlockLearner.TargetPower(targetsOut);
        for (int j = 0; j < prepared.Count; j++)
        {
            var (entry, layer) = finished[j];
            entry.InitialLoss = j == 0 ? (double.IsNaN(initial) ? final : initial) : 0.0;
            entry.FinalLoss = j == 0 ? final : 0.0;
            if (j == 0) entry.RelativeLoss = final / Math.Max(1e-30, power);
            store.Save(ordinals[j], entry, layer);
            tally.Add(targets[ordinals[j]], entry, (ICompressedLayer)layer, originals[j]);
            prepared[j].Codebook?.Dispose();
        }
        // The FP modules were kept while the block learned; the compressed ones stay in the model now.
        foreach (var p in prepared) p.Info.Module.Dispose();
        foreach (var t in targetsOut) foreach (var v in t.Values) v.Dispose();
        context.Log.Debug($"jlcm: block [{string.Join(", ", block.Layers)}] loss {initial:G4} → {final:G4} ({final / Math.Max(1e-30, power):P2} of the output power), ±1 moves {string.Join(", ", moves.Select(m => m.ShareOfUnitMoves.ToString("P1")))}");
    }

    /// <summary><c>--init gptq</c> on the block objective: each prepared layer's input statistics from one pass of the
    /// block on its inputs (the block's earlier layers still full precision, as in GPTQ's reference without true
    /// sequential), then its codebook initialised again by GPTVQ.</summary>
    private static void ReinitialiseWithGptq(JlcmOptions options, CompressibleModel model, ModelBlock block, List<Dictionary<string, Tensor>> inputs,
        List<Prepared> prepared, IReadOnlyList<int> ordinals, int seed)
    {
        var wrappers = prepared.Select(p => new LayerInputStatistics((nn.Module<Tensor, Tensor>)p.Info.Module)).ToList();
        for (int j = 0; j < prepared.Count; j++) model.ReplaceLayer(prepared[j].Info.Name, wrappers[j], disposeOld: false);
        try
        {
            using (no_grad())
                foreach (var given in inputs)
                {
                    using var scope = NewDisposeScope();
                    model.RunValues(given, block.Outputs);
                }
            for (int j = 0; j < prepared.Count; j++)
            {
                using var scope = NewDisposeScope();
                var h = wrappers[j].Hessian();
                if (options.Damping > 0) h = h.add(eye(h.shape[0]).mul(options.Damping * h.diagonal().mean().item<float>()));
                var p = prepared[j];
                var cb = GroupedCodebook.Initialise(p.Weight, options.WeightBits, p.Codebook!.Groups, options.Variant, CodebookInit.Gptq, options.KmeansIterations,
                    LayerSeed(seed, p.Info.Name), h);
                p.Codebook.Dispose();
                prepared[j] = p with { Codebook = cb };
            }
        }
        finally
        {
            for (int j = 0; j < prepared.Count; j++)
            {
                model.ReplaceLayer(prepared[j].Info.Name, prepared[j].Info.Module, disposeOld: false);
                wrappers[j].Dispose();
            }
        }
    }

    /// <summary>H = XᵀX/N of the layer's inputs, from a calibration pass through the current model, plus damping·mean(diag H)·I.</summary>
    private static Tensor InputStatistics(CompressibleModel model, LayerInfo info, CalibrationFeeder feeder, double damping, CancellationToken cancellation)
    {
        var wrapper = new LayerInputStatistics((nn.Module<Tensor, Tensor>)info.Module);
        model.ReplaceLayer(info.Name, wrapper, disposeOld: false);
        try
        {
            feeder.RunAll(model, cancellation);
            var h = wrapper.Hessian();
            if (damping > 0) h = h.add(eye(h.shape[0], device: h.device).mul(damping * h.diagonal().mean().item<float>()));
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

    /// <summary>The run's totals for the report.</summary>
    private sealed class Tally(PluginContext context, int layers)
    {
        public PluginContext Context => context;
        public IndexMoveStats Moves { get; } = new();
        public long Weights, StorageBits, AccountedBits, Folded, ExplicitPermutations, Resumed;
        public double LossInit, LossFinal;
        public List<double> RelativeLosses { get; } = [];

        public void Add(LayerInfo info, LayerOutcome entry, ICompressedLayer compressed, Tensor original)
        {
            context.Report.AddLayer(info.Name, compressed, original);
            Weights += info.WeightCount;
            StorageBits += compressed.WeightStorageBits;
            AccountedBits += compressed is CodebookLayer cl ? cl.AccountedBits : compressed.WeightStorageBits;
            if (entry.Consumer is not null) Folded++;
            if (compressed is CodebookLayer { Permuted: true }) ExplicitPermutations++;
            LossInit += entry.InitialLoss;
            LossFinal += entry.FinalLoss;
            if (entry.RelativeLoss is { } rel) RelativeLosses.Add(rel);
            if (entry.Moves is { } mv) Moves.Accumulate(mv.ToStats(), 1.0 / layers);
        }

        public void Report(long samples, double seconds, bool byBlock)
        {
            var r = context.Report;
            string unit = byBlock ? "sum over blocks" : "sum over layers";
            r.AddMetric(new Metric("bitsPerWeight", (double)StorageBits / Weights, "bits"));
            r.AddMetric(new Metric("accountedBitsPerWeight", (double)AccountedBits / Weights, "bits"));
            r.AddMetric(new Metric("compressedWeights", Weights, "weights"));
            r.AddMetric(new Metric("permutationsFolded", Folded, "layers"));
            r.AddMetric(new Metric("permutationsStored", ExplicitPermutations, "layers"));
            r.AddMetric(new Metric("reconstructionLossInit", LossInit, unit));
            r.AddMetric(new Metric("reconstructionLoss", LossFinal, unit));
            if (RelativeLosses.Count > 0)
                r.AddMetric(new Metric("reconstructionRelativeLoss", RelativeLosses.Average(),
                    byBlock ? "mean over blocks of loss / mean square of the FP block output" : "mean over layers of loss / mean square of the FP layer output"));
            r.AddMetric(new Metric("calibrationSamples", samples, "samples"));
            r.AddMetric(new Metric("resumedLayers", Resumed, "layers"));
            r.AddMetric(new Metric("compressionSeconds", seconds, "s"));
            if (Moves.MovesOne.Count > 0)
            {
                var x = Enumerable.Range(1, Moves.MovesOne.Count).Select(v => (double)v).ToList();
                r.AddSeries(new Series("indexMoves1", x, Moves.MovesOne.Select(v => (double)v).ToList(), "update", "indices moved by 1 (all layers)"));
                r.AddSeries(new Series("indexMoves2", x, Moves.MovesTwo.Select(v => (double)v).ToList(), "update", "indices moved by 2 (all layers)"));
                r.AddSeries(new Series("indexMoves3Plus", x, Moves.MovesThreeOrMore.Select(v => (double)v).ToList(), "update", "indices moved by 3 or more (all layers)"));
                r.AddSeries(new Series("extremeCodewordShare", x, Moves.ExtremeShare.ToList(), "update", "share of weights on codeword 0 or K-1 (mean over layers)"));
                r.AddMetric(new Metric("unitMoveShare", Moves.ShareOfUnitMoves, "fraction"));
            }
            context.Log.Info($"jlcm: {(double)StorageBits / Weights:F4} bits/weight stored ({(double)AccountedBits / Weights:F4} by the paper's accounting), " +
                             $"{Folded} permutation(s) folded, {ExplicitPermutations} stored, loss {LossInit:G4} → {LossFinal:G4} ({unit}), {seconds:F1} s");
        }
    }

    /// <summary>An option value as the command line spells it (KMeans → k-means).</summary>
    private static string Kebab(Enum value) => Regex.Replace(value.ToString(), "(?<=[a-z0-9])([A-Z])", "-$1").ToLowerInvariant();
}
