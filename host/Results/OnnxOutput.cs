namespace Compressor.Host.Results;

/// <summary>report.json's <c>output.onnx</c> (and <c>onnx</c> of <c>compress export --format json</c>): the ONNX
/// model's files, sizes and bits per weight.</summary>
/// <param name="File">The model file's name.</param>
/// <param name="ExternalData">The side file of tensor data, or null.</param>
/// <param name="Sha256">SHA-256 of the model file (and of the side file after a '+').</param>
/// <param name="BytesOnDisk">Bytes of both files.</param>
/// <param name="TheoreticalBytes">What the compressed layers' initializers need plus every other initializer.</param>
/// <param name="CompressedTensorBytes">What the compressed layers' initializers take.</param>
/// <param name="CompressedTheoreticalBytes">What theory says those need.</param>
/// <param name="BitsPerWeight">Bits per compressed weight in the file (biases left out), 4 decimals; null without
/// compressed layers.</param>
/// <param name="Opset">The <c>ai.onnx</c> opset.</param>
/// <param name="IrVersion">The IR version.</param>
public sealed record OnnxOutput(
    string File,
    string? ExternalData,
    string Sha256,
    long BytesOnDisk,
    long TheoreticalBytes,
    long CompressedTensorBytes,
    long CompressedTheoreticalBytes,
    double? BitsPerWeight,
    int Opset,
    long IrVersion);
