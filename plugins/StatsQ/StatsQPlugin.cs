using Compressor.Plugins.StatsQ.Algorithm.Training;
using Compressor.Plugins.StatsQ.Layers;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace Compressor.Plugins.StatsQ;

/// <summary>The <c>statsq</c> plugin (OFQ, Liu et al., ICML 2023): quantization-aware training from the context's FP
/// model with StatsQ (or LSQ) weights — on the built-in ViT/DeiT with LSQ activations, QKR and 8-bit first/last
/// layers; on any other model weight-only on the selected linears — distilled from a frozen FP copy, followed by
/// confidence-guided annealing; then the trained model is rewritten into its shipped form (integer codes, steps,
/// frozen activation quantizers: <see cref="StatsQLinear"/>, <see cref="StatsQConv2d"/>, <see cref="StatsQAttention"/>).
/// Needs labelled image training data. Resumable from its work folder.</summary>
public sealed class StatsQPlugin : CompressionPlugin<StatsQOptions>
{
    /// <inheritdoc/>
    public override IReadOnlyList<ILayerKind> LayerKinds => StatsQKinds.All;

    /// <inheritdoc/>
    protected override void Run(PluginContext context, StatsQOptions options)
    {
        options = options.Resolved();
        var model = context.Model;
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "statsq: quantization-aware training needs an executable model (pass --arch for a bare checkpoint)");
        // QKR folds W_qᵀW_k into one matrix and the quantized attention replaces the whole module: both need the fused,
        // unmasked, position-free attention of ViT/DeiT (README "Where the quantizers go"). Other forms are refused in
        // one line rather than skipped.
        if (model.Transformer?.Blocks.FirstOrDefault(b => b.Attention.Differences() is not null) is { } other)
            throw new CompressException(ErrorKind.InvalidInput,
                $"statsq: {(options.Qkr ? "QKR and " : "")}the quantized attention apply to the fused, unmasked attention of ViT/DeiT; " +
                $"{other.Attention.Name} ({model.ArchitectureName}) has {other.Attention.Differences()}, which this version does not rewrite");
        var train = context.Data.Train
                    ?? throw new CompressException(ErrorKind.InvalidOptions, "statsq: quantization-aware training needs labelled training data: pass --data (e.g. --data digits or --data idx:DIR)");
        var evaluation = context.Data.Evaluation ?? train;
        CheckLabelledImages(train);
        bool vit = model.Transformer is not null;
        context.Log.Info($"statsq: {(vit ? "ViT/DeiT" : "weight-only")} QAT, W{options.WeightBits}{(vit ? $"A{options.ActivationBits}" : "")} {options.Quantizer.ToString().ToLowerInvariant()}" +
                         $"{(vit && options.Qkr ? " + QKR" : "")}{(options.Cga && options.CgaEpochs > 0 ? $" + CGA (BR {options.CgaBoundary})" : "")}, " +
                         $"{options.Epochs} epoch(s) on {train.Name} ({train.Count} samples){(options.Kd ? ", distilled from the FP model" : "")}");

        double fpStep = options.Kd ? 0 : StepTiming.Measure(model, train, options.BatchSize, context.Device);
        using var teacher = options.Kd ? model.FrozenCopy() : null;
        double fpAccuracy = TaskLoss.Evaluate(model, evaluation, DataKind.Images, Math.Max(64, options.BatchSize), context.Device).Accuracy ?? 0;
        using var probe = vit && options.Qkr ? RewriteProbe.Capture(model, evaluation, Math.Max(64, options.BatchSize), context.Device) : null;
        var tensors = ModelQuantization.Apply(model, options);
        model.Module.to(context.Device);
        if (probe is not null) ReportQkrConversion(context, options, probe.Compare(model));
        context.Log.Info($"statsq: {tensors.Count} quantized weight tensor(s), {tensors.Sum(t => t.Latent?.numel() ?? 0):N0} weights under CGA");

        var trainer = new QatTrainer(model, teacher, tensors, options, train, evaluation, DataKind.Images, context.Device, context.Progress, context.Log,
            context.Report, context.Resume, context.Seed);
        double qatAccuracy = trainer.Run(context.Cancellation);
        // With a teacher (an FP copy of the input model) both steps are timed in alternation, robust to load changes;
        // without one the FP step measured before the rewrite is used.
        double qatStep;
        if (teacher is not null) (fpStep, qatStep) = StepTiming.MeasurePair(teacher, model, train, options.BatchSize, context.Device);
        else qatStep = StepTiming.Measure(model, train, options.BatchSize, context.Device);

        int layers = QatConversion.Apply(model, context.Report, context.Device);
        double shippedAccuracy = TaskLoss.Evaluate(model, evaluation, DataKind.Images, Math.Max(64, options.BatchSize), context.Device).Accuracy ?? 0;
        var compressed = model.CompressedLayers();
        long bits = compressed.Sum(c => c.Layer.WeightStorageBits), weights = compressed.Sum(c => c.Layer.DenseWeightShape.Aggregate(1L, (a, b) => a * b));
        context.Report.AddMetric(new Metric("fpAccuracy", fpAccuracy, "fraction", evaluation.Name));
        context.Report.AddMetric(new Metric("qatAccuracy", qatAccuracy, "fraction", evaluation.Name, fpAccuracy));
        context.Report.AddMetric(new Metric("shippedAccuracy", shippedAccuracy, "fraction", evaluation.Name, fpAccuracy));
        context.Report.AddMetric(new Metric("fpStepSeconds", fpStep, "s"));
        context.Report.AddMetric(new Metric("qatStudentStepSeconds", qatStep, "s"));
        context.Report.AddMetric(new Metric("stepTimeRatio", fpStep > 0 ? qatStep / fpStep : 0, "×"));
        context.Report.AddMetric(new Metric("quantizedBitsPerWeight", weights == 0 ? 0 : (double)bits / weights, "bits"));
        context.Log.Info($"statsq: {layers} compressed layer(s); accuracy FP {fpAccuracy:P2} → QAT {qatAccuracy:P2} → shipped {shippedAccuracy:P2}; " +
                         $"student step {qatStep * 1000:F1} ms vs FP {fpStep * 1000:F1} ms ({(fpStep > 0 ? qatStep / fpStep : 0):F2}×)");
    }

    /// <summary>The logit error the QKR rewrite causes before any training (quantizers off): the cost of dropping the
    /// query/key biases of a pretrained model, as the reference does (≈ 0 with <c>--keep-query-bias</c>).</summary>
    private static void ReportQkrConversion(PluginContext context, StatsQOptions options, (double RelativeError, double Top1Agreement) e)
    {
        context.Report.AddMetric(new Metric("qkr.initialLogitRelativeError", e.RelativeError, "relative L2"));
        context.Report.AddMetric(new Metric("qkr.initialTop1Agreement", e.Top1Agreement, "fraction"));
        string what = options.KeepQueryBias ? "query bias kept" : "q/k biases dropped as in the reference; --keep-query-bias keeps the term that matters";
        context.Log.Info($"statsq: QKR rewrite before training (quantizers off, {what}): logits {e.RelativeError:P3} relative L2 from the FP model, top-1 agreement {e.Top1Agreement:P1}");
    }

    private static void CheckLabelledImages(IDataSet train)
    {
        using var batch = train.Batches(1).FirstOrDefault()
                          ?? throw new CompressException(ErrorKind.InvalidInput, $"statsq: the training set {train.Name} is empty");
        if (batch.Target is null || !batch.Input.is_floating_point() || batch.Target.dtype != ScalarType.Int64)
            throw new CompressException(ErrorKind.InvalidOptions, $"statsq: QAT needs labelled image classification data (--data digits or idx:DIR); {train.Name} is not");
    }
}
