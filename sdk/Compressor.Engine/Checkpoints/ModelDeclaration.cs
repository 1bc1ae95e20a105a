namespace Compressor.Engine.Checkpoints;

/// <summary>What a checkpoint declares, found without loading it (<see cref="ModelIO.Declare"/>).</summary>
/// <param name="Format">The file's format (e.g. <c>safetensors</c>, <c>onnx</c>).</param>
/// <param name="FileTensorBytes">The bytes of tensor data the file holds (its header's account).</param>
/// <param name="ModelTensorBytes">The bytes of every parameter and buffer of the model built from it (equal to the
/// file's for a checkpoint compress wrote; a foreign one may differ by the tensors the architecture derives).</param>
/// <param name="Executable">Whether the model has an architecture (false: weights-only).</param>
public sealed record ModelDeclaration(string Format, long FileTensorBytes, long ModelTensorBytes, bool Executable);
