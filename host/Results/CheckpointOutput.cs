using Newtonsoft.Json;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>output</c>: the compressed checkpoint and, under <see cref="Onnx"/>, the ONNX model.</summary>
/// <param name="Checkpoint">The checkpoint's file name.</param>
/// <param name="Sha256">Its SHA-256.</param>
/// <param name="BytesOnDisk">Its size.</param>
/// <param name="TheoreticalBytes">Compressed weights at their storage bits plus everything else in float.</param>
/// <param name="CompressedWeights">Weights replaced by compressed layers.</param>
/// <param name="BitsPerWeight">Storage bits per compressed weight (scales and zero points included), 4 decimals;
/// null without compressed layers.</param>
/// <param name="Onnx">The ONNX model; left out of the file for a model that was not exported (weights-only).</param>
public sealed record CheckpointOutput(
    string Checkpoint,
    string Sha256,
    long BytesOnDisk,
    long TheoreticalBytes,
    long CompressedWeights,
    double? BitsPerWeight,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] OnnxOutput? Onnx = null);
