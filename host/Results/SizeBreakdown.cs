namespace Compressor.Host.Results;

/// <summary>report.json's <c>sizes</c>: where the bytes of the deployed file are — the compressed layers, the layers
/// left in float32 (each with why and what would compress it), the other tensors (norms, biases, position tables…),
/// and the file's own overhead (the ONNX graph and protobuf framing, or the checkpoint's header).</summary>
/// <param name="File">The file the breakdown is of: model.onnx when it was written, else the checkpoint.</param>
/// <param name="TotalBytes">Its bytes on disk (ONNX: with its external data).</param>
/// <param name="CompressedLayers">How many layers are compressed.</param>
/// <param name="CompressedBytes">The bytes of their tensors (biases included).</param>
/// <param name="Fp32Bytes">The bytes of the weight-bearing layers left in float32 (weights and biases).</param>
/// <param name="OtherTensorBytes">The bytes of every other tensor.</param>
/// <param name="OverheadBytes">What is left: graph, names, framing, header.</param>
/// <param name="Fp32Layers">The layers left in float32, largest first.</param>
public sealed record SizeBreakdown(
    string File,
    long TotalBytes,
    int CompressedLayers,
    long CompressedBytes,
    long Fp32Bytes,
    long OtherTensorBytes,
    long OverheadBytes,
    IReadOnlyList<Fp32Layer> Fp32Layers)
{
    /// <summary>The rows of the breakdown: part, bytes, share of the total.</summary>
    public IEnumerable<(string Part, long Bytes)> Parts()
    {
        yield return ($"compressed layers ({CompressedLayers})", CompressedBytes);
        yield return ($"layers left in float32 ({Fp32Layers.Count})", Fp32Bytes);
        yield return ("other tensors (norms, biases, position tables, …)", OtherTensorBytes);
        yield return (File.EndsWith(".onnx", StringComparison.Ordinal) ? "graph and file overhead" : "file header and metadata", OverheadBytes);
    }
}

/// <summary><c>sizes.fp32Layers[]</c>: a weight-bearing layer that no step compressed.</summary>
/// <param name="Name">The layer.</param>
/// <param name="Type">linear, conv2d or embedding.</param>
/// <param name="Parameters">Its weights and bias.</param>
/// <param name="Bytes">Their bytes (float32).</param>
/// <param name="Hint">Why it stayed float32 and what would compress it (e.g. "rtn --embeddings").</param>
public sealed record Fp32Layer(string Name, string Type, long Parameters, long Bytes, string Hint);
