using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Data;
using Compressor.Layers.Structured;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The structured-FFN pipeline of one run: size each selected linear, build its structured form (fitted to
/// the dense weight, or the reference init with --from-scratch), optionally wrap it for self-guided training, train
/// (task loss from scratch, or distillation from the original model for recovery), drop the guides, and choose
/// the pre-merged export form where the deployment token count is below the measured break-even.</summary>
public static class StructuredFfn
{
    /// <summary>Rewrites the model in <paramref name="context"/> with <paramref name="options"/>.</summary>
    public static void Apply(PluginContext context, SparsityOptions options)
    {
        if (options.Structure == Structure.None)
        {
            TrainDenseBaseline(context, options);
            return;
        }
        var model = context.Model;
        var layers = FfnSelection.Select(model, options.Include, options.Exclude, options.FirstLayerDense, out var keptDense);
        if (layers.Count == 0) return;   // a unit of a streamed run without a linear to rewrite (FfnSelection.StreamedUnit)
        bool trains = options.FromScratch || options.RecoverySteps > 0;
        if (trains && !model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "sparsity: training and recovery need an executable model (pass --arch)");
        var trainData = context.Data.Train ?? context.Data.Calibration;
        if (trains && trainData is null)
            throw new CompressException(ErrorKind.InvalidOptions, "sparsity: --from-scratch and --recovery-steps need data: pass --data");
        if (keptDense.Count > 0) context.Log.Info($"sparsity: first layer kept dense: {string.Join(", ", keptDense)}");

        int steps = options.FromScratch ? options.TrainSteps : options.RecoverySteps;
        long guidedSteps = (long)Math.Round(options.SgtShare * steps);
        var originals = new Dictionary<string, (TorchSharp.Modules.Linear Layer, Tensor Weight)>(StringComparer.Ordinal);
        var structured = new Dictionary<string, StructuredLinear>(StringComparer.Ordinal);
        var wrappers = new Dictionary<string, SelfGuidedLinear>(StringComparer.Ordinal);
        long denseWeights = 0, structuredWeights = 0;
        var missed = new Dictionary<(long N, long M), StructureSizes>();
        using (var progress = context.Progress.Start("sparsity: build structured layers", layers.Count))
        {
            for (int i = 0; i < layers.Count; i++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                var info = layers[i];
                var linear = (TorchSharp.Modules.Linear)info.Module;
                var w = linear.weight!.detach();   // the fit runs on the model's device
                var bias = linear.bias?.detach();
                Tensor? guide = null;
                try
                {
                    long m = w.shape[0], n = w.shape[1];
                    var sizes = StructureSizes.Choose(options.Structure, n, m, options.Fraction, options.Rank, options.Blocks, info.Name);
                    if (options.Rank == 0 && (options.Blocks == 0 || options.Structure == Structure.BlockDense)
                        && Math.Abs(sizes.Share(n, m) - options.Fraction) > StructureSizes.FractionTolerance)
                        missed.TryAdd((n, m), sizes);
                    StructuredLinear layer;
                    if (options.FromScratch)
                    {
                        using var generator = new Generator((ulong)(context.Seed * 1000 + i + 1));
                        layer = StructureInit.FromScratch(sizes, n, m, linear.bias is not null, generator, w.device);
                        guide = StructureInit.InitialGuide(layer, options.SgtBlockShuffleQuirk);
                    }
                    else
                    {
                        layer = DenseFit.Fit(sizes, w, bias);
                        guide = w;
                    }
                    layer.to(context.Device);
                    structured[info.Name] = layer;
                    originals[info.Name] = (linear, w.clone());
                    denseWeights += n * m;
                    structuredWeights += layer.StructuredParameterCount;
                    nn.Module replacement = layer;
                    if (options.Sgt && trains && guidedSteps > 0)
                    {
                        var wrapper = new SelfGuidedLinear(layer, guide, guidedSteps, options.SgtReduceFlop, context.Seed * 7919 + i);
                        wrappers[info.Name] = wrapper;
                        replacement = wrapper;
                    }
                    model.ReplaceLayer(info.Name, replacement, disposeOld: false);
                    progress.Advance(1, $"{info.Name}: {sizes}");
                }
                finally
                {
                    // The fitted layer and the SGT wrapper hold their own copies: the detached views and the guide go.
                    if (guide is not null && !ReferenceEquals(guide, w)) guide.Dispose();
                    w.Dispose();
                    bias?.Dispose();
                }
            }
        }
        double kept = (double)structuredWeights / denseWeights;
        context.Log.Info($"sparsity: {layers.Count} linear(s) → {options.Structure.ToString().ToLowerInvariant()}: kept {Percent(kept)} of their weights " +
                         $"({structuredWeights:N0} of {denseWeights:N0}{(options.Rank == 0 && options.Blocks == 0 ? $"; --fraction {options.Fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "")})"
                         + (wrappers.Count > 0 ? $", SGT over {guidedSteps} of {steps} steps" : ""));
        foreach (var ((n, m), sizes) in missed)
        {
            string near = string.Join(" or ", StructureSizes.Neighbours(options.Structure, n, m, sizes.Blocks, options.Fraction)
                .Select(c => $"{Percent(c.Share(n, m))} ({c})"));
            string warning = $"sparsity: --fraction {options.Fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)} cannot be kept by " +
                             $"{options.Structure.ToString().ToLowerInvariant()} on a {n}→{m} linear: the nearest achievable shares are {near}; " +
                             $"it keeps {Percent(sizes.Share(n, m))} ({sizes})";
            context.Log.Warn(warning);
            context.Report.Warn(warning);
        }
        try
        {
            if (options.FromScratch) TrainFromScratch(context, options, trainData!);
            else if (options.RecoverySteps > 0) Recover(context, options, trainData!, originals.ToDictionary(kv => kv.Key, kv => kv.Value.Layer), structured, wrappers);
        }
        finally
        {
            foreach (var (name, wrapper) in wrappers)
            {
                model.ReplaceLayer(name, wrapper.Structured, disposeOld: false);
                wrapper.Guide.Dispose();
                wrapper.StepCounter.Dispose();
            }
        }
        var thresholds = new Dictionary<(string, long, long), int>();
        foreach (var (name, layer) in structured)
        {
            if (options.DeployTokens > 0)
            {
                var key = (layer.Kind, layer.InFeatures, layer.OutFeatures);
                if (!thresholds.TryGetValue(key, out int breakEven)) thresholds[key] = breakEven = PreMergeDecision.BreakEvenTokens(layer);
                layer.PreMerged = options.DeployTokens < breakEven;
            }
            context.Report.AddLayer(name, layer, originals[name].Weight);
            originals[name].Layer.Dispose();
            originals[name].Weight.Dispose();
        }
        foreach (var ((kind, n, m), t) in thresholds)
        {
            context.Report.AddMetric(new Metric($"preMergeBreakEvenTokens:{kind}:{n}x{m}", t, "tokens"));
            context.Log.Info($"sparsity: {kind} {n}→{m} is faster structured from {t} tokens per call; {(options.DeployTokens < t ? "pre-merged" : "kept structured")} for --deploy-tokens {options.DeployTokens}");
        }
        // The achieved share of the structured linears' weights (what --fraction asks for), and of all selected FFN
        // linears, those --first-layer-dense kept dense included.
        long keptDenseWeights = keptDense.Sum(name => model.Layers().First(l => l.Name == name).WeightCount);
        context.Report.AddMetric(new Metric("structuredWeightFraction", kept, "ratio"));
        if (options.Rank == 0 && options.Blocks == 0) context.Report.AddMetric(new Metric("requestedWeightFraction", options.Fraction, "ratio"));
        context.Report.AddMetric(new Metric("ffnWeightFraction", (double)(structuredWeights + keptDenseWeights) / (denseWeights + keptDenseWeights), "ratio"));
        context.Report.AddMetric(new Metric("structuredWeights", structuredWeights, "weights"));
        context.Report.AddMetric(new Metric("replacedDenseWeights", denseWeights, "weights"));
    }


    private static string Percent(double share) => (100 * share).ToString("0.0#", System.Globalization.CultureInfo.InvariantCulture) + " %";

    private static StepTrainer.Settings Settings(PluginContext context, SparsityOptions options, int steps, double weightDecay) =>
        new(steps, options.LearningRate, options.BatchSize, options.CheckpointEvery, weightDecay, context.Seed);

    /// <summary>The dense baseline of an equal-step comparison (<c>--structure none --from-scratch</c>): the model is
    /// left as it is and trained on the task by the same step trainer, schedule, seed and data order as the
    /// structured runs.</summary>
    private static void TrainDenseBaseline(PluginContext context, SparsityOptions options)
    {
        if (!context.Model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "sparsity: training needs an executable model (pass --arch)");
        var trainData = context.Data.Train ?? context.Data.Calibration
            ?? throw new CompressException(ErrorKind.InvalidOptions, "sparsity: --from-scratch needs data: pass --data");
        context.Log.Info($"sparsity: dense baseline, {options.TrainSteps} training steps of the unchanged model");
        TrainFromScratch(context, options, trainData);
        context.Report.AddMetric(new Metric("structuredWeightFraction", 1.0, "ratio"));
    }

    /// <summary>Task training of the whole model (next-token or class cross-entropy from the batch targets).</summary>
    private static void TrainFromScratch(PluginContext context, SparsityOptions options, IDataSet data)
    {
        var model = context.Model;
        var parameters = model.Module.parameters().Where(p => p.requires_grad).ToList();
        Tensor Loss(DataBatch b)
        {
            if (b.Target is null) throw new CompressException(ErrorKind.InvalidInput, "sparsity: --from-scratch needs labelled data (next tokens or classes)");
            var logits = ModelInputs.Forward(model, b.Input.to(context.Device));
            return TaskLoss.Of(logits, b.Target.to(context.Device), b.Target.dim() >= 2 ? DataKind.Tokens : DataKind.Images);
        }
        var trainer = new StepTrainer(model, parameters, Loss, data, Settings(context, options, options.TrainSteps, 0.1), context.Resume, "train");
        var losses = trainer.Run(context.Progress, context.Log, context.Cancellation);
        Summarise(context, "train", losses);
    }

    /// <summary>Distillation from the original model: the student's first output matches the teacher's (MSE divided
    /// by the teacher's mean square), training only the structured layers (and their guides).</summary>
    private static void Recover(PluginContext context, SparsityOptions options, IDataSet data, Dictionary<string, TorchSharp.Modules.Linear> originals,
        Dictionary<string, StructuredLinear> structured, Dictionary<string, SelfGuidedLinear> wrappers)
    {
        var model = context.Model;
        var students = structured.ToDictionary(kv => kv.Key, kv => wrappers.TryGetValue(kv.Key, out var w) ? (nn.Module)w : kv.Value, StringComparer.Ordinal);
        var parameters = students.Values.SelectMany(m => m.parameters()).ToList();
        Tensor Loss(DataBatch b)
        {
            var x = b.Input.to(context.Device);
            Tensor target;
            foreach (var (name, original) in originals) model.ReplaceLayer(name, original, disposeOld: false);
            try
            {
                using var noGrad = no_grad();
                target = ModelInputs.Forward(model, x);
            }
            finally
            {
                foreach (var (name, student) in students) model.ReplaceLayer(name, student, disposeOld: false);
            }
            var y = ModelInputs.Forward(model, x);
            return nn.functional.mse_loss(y, target).div(target.square().mean().clamp_min(1e-12));
        }
        var trainer = new StepTrainer(model, parameters, Loss, data, Settings(context, options, options.RecoverySteps, 0.0), context.Resume, "recovery");
        var losses = trainer.Run(context.Progress, context.Log, context.Cancellation);
        Summarise(context, "recovery", losses);
    }

    private static void Summarise(PluginContext context, string tag, IReadOnlyList<double> losses)
    {
        if (losses.Count == 0) return;
        context.Report.AddSeries(new Series($"{tag}Loss", Enumerable.Range(1, losses.Count).Select(i => (double)i).ToList(), losses.ToList(), "step", "loss"));
        int tail = Math.Max(1, losses.Count / 10);
        double first = losses.Take(tail).Average(), last = losses.Skip(losses.Count - tail).Average();
        int spikes = StepTrainer.CountSpikes(losses);
        context.Report.AddMetric(new Metric($"{tag}LossFirst10pct", first, "loss"));
        context.Report.AddMetric(new Metric($"{tag}LossLast10pct", last, "loss"));
        context.Report.AddMetric(new Metric($"{tag}LossSpikes", spikes, "steps"));
        context.Log.Info($"sparsity: {tag} loss {StepTrainer.F(first)} → {StepTrainer.F(last)} (mean of first/last 10% of {losses.Count} steps), {spikes} spike(s)");
    }
}
