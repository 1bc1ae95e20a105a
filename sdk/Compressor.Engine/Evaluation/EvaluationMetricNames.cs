namespace Compressor.Engine.Evaluation;

/// <summary>The metric names of an evaluation on ONNX Runtime, as they appear in <c>compress eval</c> output and in
/// report.json <c>metrics[]</c>.</summary>
public static class EvaluationMetricNames
{
    /// <summary>Top-1 accuracy on labelled images, a fraction in [0, 1].</summary>
    public const string Accuracy = "accuracy";

    /// <summary>Mean cosine similarity of the model's output vector (per sample, or per token) to the reference's.</summary>
    public const string Cosine = "cosine";

    /// <summary>Fraction of samples (or tokens) whose arg-max output equals the reference's.</summary>
    public const string Top1Agreement = "top1Agreement";

    /// <summary>Mean KL divergence KL(softmax(reference) ‖ softmax(model)) in nats, per sample (or token).</summary>
    public const string KlDivergence = "klDivergence";

    /// <summary>Language-model perplexity: exp of the mean cross-entropy of the logits against the next tokens.</summary>
    public const string Perplexity = "perplexity";

    /// <summary>Median wall time of one batch, in milliseconds.</summary>
    public const string LatencyMedianMs = "latencyMedianMs";

    /// <summary>90th-percentile wall time of one batch, in milliseconds.</summary>
    public const string LatencyP90Ms = "latencyP90Ms";

    /// <summary>Peak resident memory added by creating the session and running one batch, in MiB (see <see cref="PeakMemory"/>).</summary>
    public const string PeakMemoryMB = "peakMemoryMB";
}
