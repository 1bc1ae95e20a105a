namespace Compressor.Engine.Onnx.Export;

/// <summary>What <see cref="OnnxExporter.Export"/> wrote.</summary>
/// <param name="ModelPath">The .onnx file.</param>
/// <param name="ExternalDataPath">The side file of tensor data, or null when every tensor is inside the model file.</param>
/// <param name="Opset">The <c>ai.onnx</c> opset declared.</param>
/// <param name="IrVersion">The IR version declared.</param>
/// <param name="Opsets">Every declared domain with its version ("" is ai.onnx).</param>
/// <param name="BytesOnDisk">Bytes of the model file plus the side file.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the model file (and, after a '+', of the side file when there is one).</param>
/// <param name="InitializerBytes">Raw tensor bytes of every initializer, by name, in graph order.</param>
/// <param name="CompressedLayers">The compressed layers and the initializers their lowerings wrote.</param>
/// <param name="Inputs">The graph inputs.</param>
/// <param name="Outputs">The graph outputs.</param>
public sealed record OnnxExportResult(
    string ModelPath,
    string? ExternalDataPath,
    int Opset,
    long IrVersion,
    IReadOnlyDictionary<string, int> Opsets,
    long BytesOnDisk,
    string Sha256,
    IReadOnlyList<KeyValuePair<string, long>> InitializerBytes,
    IReadOnlyList<ExportedCompressedLayer> CompressedLayers,
    IReadOnlyList<OnnxValueSpec> Inputs,
    IReadOnlyList<OnnxValueSpec> Outputs)
{
    /// <summary>What the export was optimised for (<see cref="OnnxExportOptions.Target"/>).</summary>
    public Compressor.Sdk.Layers.ExportTarget Target { get; init; } = Compressor.Sdk.Layers.ExportTarget.Size;

    /// <summary>The graph value each module a streamed export leased (<see cref="OnnxExporter.ExportStreamed"/>) output
    /// first, by module name in emission order (its blocks' hidden states); empty for a whole-model export.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> LeasedOutputs { get; init; } = [];

    /// <summary>Raw bytes of the compressed layers' initializers (codes, scales, zero points, biases).</summary>
    public long CompressedTensorBytes => CompressedLayers.Sum(l => l.Initializers.Sum(n => InitializerBytes.First(kv => kv.Key == n).Value));

    /// <summary>What theory says those need (<see cref="ExportedCompressedLayer.TheoreticalBytes"/> summed).</summary>
    public long CompressedTheoreticalBytes => CompressedLayers.Sum(l => l.TheoreticalBytes);
}
