namespace Compressor.Host.Demo;

/// <summary>The demo report's <c>fp32</c>: the uncompressed reference row.</summary>
/// <param name="Title">What the table calls it.</param>
/// <param name="CheckpointBytes">The base model file's size.</param>
/// <param name="OnnxBytes">The size of its ONNX export (the reference of the first step that ran), or null.</param>
/// <param name="BitsPerWeight">32.</param>
/// <param name="Metrics">Its ORT metrics, {name: value}, as measured in the first step that ran.</param>
public sealed record DemoFp32Row(string Title, long CheckpointBytes, long? OnnxBytes, int BitsPerWeight, IReadOnlyDictionary<string, double?> Metrics);
