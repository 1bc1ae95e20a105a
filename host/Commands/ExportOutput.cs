using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary><c>compress export --format json</c>: the files written, the ONNX model and what the gate found.</summary>
public sealed record ExportOutput(int SchemaVersion, IReadOnlyList<string> Files, OnnxOutput Onnx, OnnxVerification Verification, PreMergeReport? PreMerge = null);
