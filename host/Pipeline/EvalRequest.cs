namespace Compressor.Host.Pipeline;

/// <summary>Everything <c>compress eval</c> was asked to do.</summary>
/// <param name="ModelPath">The ONNX model to evaluate.</param>
/// <param name="ReferencePath">An ONNX model to compare against (measured in the same run), or null.</param>
/// <param name="Data">The data spec; its evaluation split is used.</param>
/// <param name="BatchSize">Samples per batch (quality pass and timed batch).</param>
/// <param name="Runs">Timed runs of one batch per model.</param>
/// <param name="Seed">The seed that fixes the data splits (0, as <c>compress run</c>'s default).</param>
/// <param name="Threads">ORT intra-op threads (null: one per logical CPU).</param>
/// <param name="Limit">Evaluate at most this many samples (null: all).</param>
public sealed record EvalRequest(string ModelPath, string? ReferencePath, string Data, int BatchSize = 64, int Runs = 20, int Seed = 0, int? Threads = null,
    long? Limit = null);
