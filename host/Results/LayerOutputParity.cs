namespace Compressor.Host.Results;

/// <summary><c>verification.layerOutputs[]</c>: one compressed layer's output in ONNX Runtime against TorchSharp's.</summary>
/// <param name="Name">The layer.</param>
/// <param name="MaxAbsError">Max |ORT − TorchSharp|.</param>
/// <param name="SqnrDb">SQNR in dB; null when identical.</param>
public sealed record LayerOutputParity(string Name, double? MaxAbsError, double? SqnrDb);
