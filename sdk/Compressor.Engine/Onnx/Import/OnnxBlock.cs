namespace Compressor.Engine.Onnx.Import;

/// <summary>One block of an imported graph: consecutive layers with no single-value cut between them, and the values
/// that delimit them. <see cref="OnnxModule.RunValues"/> with the <see cref="Inputs"/> given computes the
/// <see cref="Outputs"/> by running only the block's nodes.</summary>
/// <param name="Layers">The block's layers (dotted names, among those asked for), in execution order.</param>
/// <param name="Inputs">The values the block reads that are computed before it: its input activation and side values
/// such as an attention mask or a shape; graph inputs when the block starts the graph.</param>
/// <param name="Outputs">The block's output: the one activation value that everything after it reads (the next
/// block's input), or the graph outputs for the last block.</param>
public sealed record OnnxBlock(IReadOnlyList<string> Layers, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);
