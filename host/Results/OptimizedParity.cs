namespace Compressor.Host.Results;

/// <summary><c>verification.optimized</c>: parity of the ONNX model with TorchSharp at ORT_ENABLE_ALL (fused kernels,
/// less exact; reported, gated loosely).</summary>
/// <param name="OptimizationLevel">Always <c>ORT_ENABLE_ALL</c>.</param>
/// <param name="MaxAbsError">Max |ORT − TorchSharp|, or null when not run.</param>
/// <param name="SqnrDb">SQNR in dB, or null (identical outputs, or not run).</param>
public sealed record OptimizedParity(string OptimizationLevel, double? MaxAbsError, double? SqnrDb);
