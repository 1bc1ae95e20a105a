using Compressor.Host.Results;

namespace Compressor.Host.Pipeline;

/// <summary>What <c>compress export</c> wrote.</summary>
/// <param name="Files">The files moved into place.</param>
/// <param name="Onnx">The ONNX model's files and sizes.</param>
/// <param name="Verification">What the gate found.</param>
public sealed record ExportResult(IReadOnlyList<string> Files, OnnxOutput Onnx, OnnxVerification Verification, PreMergeReport? PreMerge = null);
