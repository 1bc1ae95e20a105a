namespace Compressor.Engine.Onnx.Verification;

/// <summary>One compressed layer's output in ONNX Runtime (ORT_ENABLE_BASIC) against TorchSharp, on the sample inputs.</summary>
/// <param name="Layer">The layer's fully qualified name.</param>
/// <param name="MaxAbsError">Max |ORT − TorchSharp| of the layer's output.</param>
/// <param name="SqnrDb">SQNR of ORT's layer output against TorchSharp's, dB (∞ when identical).</param>
public sealed record LayerParity(string Layer, double MaxAbsError, double SqnrDb);
