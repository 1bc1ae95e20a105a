namespace Compressor.Sdk.Layers;

/// <summary>A constant tensor for an ONNX graph, with its raw little-endian bytes in ONNX layout (sub-byte types
/// packed low bits first, as ONNX specifies).</summary>
/// <param name="Name">Value name.</param>
/// <param name="DataType">ONNX <c>TensorProto.DataType</c> number (1 float, 2 uint8, 3 int8, 21 uint4, 22 int4, 25 uint2, 26 int2, …).</param>
/// <param name="Dims">Shape.</param>
/// <param name="RawData">Raw bytes.</param>
public sealed record OnnxInitializer(string Name, int DataType, long[] Dims, byte[] RawData);
