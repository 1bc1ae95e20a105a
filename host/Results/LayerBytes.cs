namespace Compressor.Host.Results;

/// <summary><c>verification.layers[]</c>: the bytes one compressed layer takes in the ONNX file against theory.</summary>
public sealed record LayerBytes(string Name, string Kind, long Bytes, long TheoreticalBytes, double? Ratio);
