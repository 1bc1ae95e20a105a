using Compressor.Sdk.Data;
using Compressor.Sdk.Reports;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Compressor.Engine.Evaluation;

/// <summary>Evaluates an ONNX model on ONNX Runtime (CPU) over a data set, optionally against a reference ONNX model
/// run on the same batches: the task metric (top-1 accuracy for labelled images, perplexity for tokens), fidelity to
/// the reference (output cosine, top-1 agreement, KL divergence of the softmaxes), latency of one batch (median and
/// p90 after warm-up, intra-op threads stated) and peak memory (<see cref="PeakMemory"/>). Every session uses
/// <see cref="OrtEvaluationOptions.OptimizationLevel"/> (ORT_ENABLE_ALL by default, as deployed).</summary>
public static class OrtEvaluation
{
    /// <summary>Runs the evaluation of <paramref name="modelPath"/> (and <paramref name="referencePath"/>) on <paramref name="data"/>.</summary>
    /// <exception cref="CompressException">A missing or unloadable model, or data the model does not take (InvalidInput);
    /// bad options (InvalidOptions).</exception>
    public static OrtEvaluationResult Run(string modelPath, string? referencePath, IDataSet data, DataKind kind, OrtEvaluationOptions? options = null,
        CancellationToken cancellation = default)
    {
        options ??= new OrtEvaluationOptions();
        options.Validate();
        if (data.Count == 0) throw new CompressException(ErrorKind.InvalidInput, $"data set {data.Name} is empty");
        string dataset = data.Name;

        // Peak memory first, each model alone: session creation plus one batch, from a known baseline. A throwaway
        // session of each model first pays the one-time costs (ORT's native library, ~29 MiB resident here, and the
        // code of the kernels each model uses, the measuring code's own first run), so the two numbers compare
        // sessions, not who ran first.
        using var first = FirstBatch(data, options.BatchSize);
        foreach (var path in referencePath is null ? [modelPath] : new[] { modelPath, referencePath })
            PeakMemory.Measure(() => { using var warm = new OrtModelRunner(path, options); warm.Run(first.Input); });
        var (memory, method) = PeakMemory.Measure(() => { using var r = new OrtModelRunner(modelPath, options); r.Run(first.Input); });
        double? referenceMemory = null;
        if (referencePath is not null)
            referenceMemory = PeakMemory.Measure(() => { using var r = new OrtModelRunner(referencePath, options); r.Run(first.Input); }).MiB;

        using var model = new OrtModelRunner(modelPath, options);
        using var reference = referencePath is null ? null : new OrtModelRunner(referencePath, options);
        var task = new TaskAccumulator(kind);
        var referenceTask = new TaskAccumulator(kind);
        var fidelity = new FidelityAccumulator();
        long samples = 0;
        bool hasTargets = true;
        foreach (var batch in data.Batches(options.BatchSize))
        {
            using var b = batch;
            cancellation.ThrowIfCancellationRequested();
            // Encoder sentences have no targets: only fidelity to the reference (and latency, memory) is measured.
            bool fidelityOnly = b.Target is null && kind == DataKind.Sentences && reference is not null;
            if (b.Target is null && !fidelityOnly) throw new CompressException(ErrorKind.InvalidInput, $"data set {dataset} has no targets to evaluate against" +
                (kind == DataKind.Sentences ? " (sentences are evaluated against a reference model: pass --reference)" : ""));
            long[]? targets = null;
            if (b.Target is not null)
            {
                using var targetCpu = b.Target.cpu().to_type(ScalarType.Int64).contiguous();
                targets = targetCpu.data<long>().ToArray();
            }
            var (y, shape) = model.Run(b.Input);
            if (targets is not null) task.Add(y, shape, targets);
            if (reference is not null)
            {
                var (yr, shapeR) = reference.Run(b.Input);
                if (targets is not null) referenceTask.Add(yr, shapeR, targets);
                fidelity.Add(y, yr, shape);
            }
            hasTargets &= targets is not null;
            samples += b.Input.shape[0];
        }

        // With a reference, both are timed interleaved on the same batch, so that their ratio sees one machine load.
        LatencyResult latency;
        LatencyResult? referenceLatency = null;
        SpeedUp? speedUp = null;
        if (reference is null) latency = LatencyBenchmark.Measure(model, first.Input, options, cancellation);
        else (latency, referenceLatency, speedUp) = LatencyBenchmark.MeasurePair(model, reference, first.Input, options, cancellation);

        bool hasRef = reference is not null;
        var metrics = new List<Metric>();
        if (hasTargets && kind == DataKind.Images) metrics.Add(new Metric(EvaluationMetricNames.Accuracy, task.Value, "fraction", dataset, hasRef ? referenceTask.Value : null));
        else if (hasTargets) metrics.Add(new Metric(EvaluationMetricNames.Perplexity, task.Value, "", dataset, hasRef ? referenceTask.Value : null));
        if (hasRef)
        {
            metrics.Add(new Metric(EvaluationMetricNames.Cosine, fidelity.Cosine, "", dataset, 1.0));
            metrics.Add(new Metric(EvaluationMetricNames.Top1Agreement, fidelity.Agreement, "fraction", dataset, 1.0));
            metrics.Add(new Metric(EvaluationMetricNames.KlDivergence, fidelity.KlDivergence, "nats", dataset, 0.0));
        }
        metrics.Add(new Metric(EvaluationMetricNames.LatencyMedianMs, latency.MedianMs, "ms", dataset, referenceLatency?.MedianMs));
        metrics.Add(new Metric(EvaluationMetricNames.LatencyP90Ms, latency.P90Ms, "ms", dataset, referenceLatency?.P90Ms));
        metrics.Add(new Metric(EvaluationMetricNames.PeakMemoryMB, memory, "MiB", dataset, referenceMemory));
        return new OrtEvaluationResult(metrics, dataset, samples, OrtEnv.Instance().GetVersionString(), options.OptimizationLevel.ToString(),
            latency, referenceLatency, method) { SpeedUp = speedUp };
    }

    private static DataBatch FirstBatch(IDataSet data, int batchSize)
    {
        using var e = data.Batches(batchSize).GetEnumerator();
        if (!e.MoveNext()) throw new CompressException(ErrorKind.InvalidInput, $"data set {data.Name} is empty");
        return e.Current;
    }
}
