using Microsoft.ML.OnnxRuntime;

namespace Compressor.Engine.Evaluation;

/// <summary>How <see cref="OrtEvaluation"/> runs a model on ONNX Runtime (CPU execution provider).</summary>
public sealed record OrtEvaluationOptions
{
    /// <summary>Samples per batch, for the quality pass and for the timed batch (default 64).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Timed runs of one batch per model (default 20); the latency median and p90 are taken over them.</summary>
    public int Runs { get; init; } = 20;

    /// <summary>Untimed runs before the timed ones (default 3): they pay for first-run allocations and caches.</summary>
    public int WarmupRuns { get; init; } = 3;

    /// <summary>ORT intra-op threads (default: <see cref="Environment.ProcessorCount"/>, stated in the result).</summary>
    public int IntraOpThreads { get; init; } = Runtime.ComputeThreads.Count;

    /// <summary>ORT graph optimisation level of every session (default ORT_ENABLE_ALL: fused kernels, as deployed).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Evaluate at most this many samples: the first ones of the evaluation split, which the seed fixes
    /// (null: all). Latency and memory are measured on the first batch either way.</summary>
    public long? Limit { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="CompressException">A value out of range (kind InvalidOptions).</exception>
    public void Validate()
    {
        if (BatchSize is < 1 or > 65536) throw new CompressException(ErrorKind.InvalidOptions, $"--batch-size {BatchSize}: must be in 1..65536");
        if (Runs is < 1 or > 100000) throw new CompressException(ErrorKind.InvalidOptions, $"--runs {Runs}: must be in 1..100000");
        if (WarmupRuns is < 0 or > 1000) throw new CompressException(ErrorKind.InvalidOptions, $"warm-up runs {WarmupRuns}: must be in 0..1000");
        if (Limit is < 1) throw new CompressException(ErrorKind.InvalidOptions, $"--eval-limit {Limit}: must be at least 1");
        if (IntraOpThreads is < 1 or > 1024) throw new CompressException(ErrorKind.InvalidOptions, $"intra-op threads {IntraOpThreads}: must be in 1..1024");
    }
}
