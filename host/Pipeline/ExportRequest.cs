namespace Compressor.Host.Pipeline;

/// <summary>Everything <c>compress export</c> was asked to do.</summary>
/// <param name="CheckpointPath">The (compressed) checkpoint.</param>
/// <param name="OutputPath">The .onnx file to write (a side file <c>.data</c> appears beside it for models over 2 GB).</param>
/// <param name="Opset">The ai.onnx opset (null: 21, or 25 where 2-bit weights need it).</param>
/// <param name="Architecture">A built-in architecture for a checkpoint that does not name one (null: from the file).</param>
/// <param name="Target">What the ONNX model is optimised for (<c>--target size|speed</c>).</param>
/// <param name="DeployTokens">Tokens per inference call the ONNX model is made for (<c>--deploy-tokens</c>; 0: every
/// structured layer keeps the form its checkpoint records).</param>
public sealed record ExportRequest(string CheckpointPath, string OutputPath, int? Opset, string? Architecture,
    Compressor.Sdk.Layers.ExportTarget Target = Compressor.Sdk.Layers.ExportTarget.Size, int DeployTokens = 0);
