namespace Compressor.Sdk.Models;

/// <summary>A block of a model's computation: consecutive layers with no single-value cut between them, and the named
/// values that delimit them (<see cref="CompressibleModel.FindBlocks"/>). <see cref="CompressibleModel.RunValues"/>
/// given the <see cref="Inputs"/> computes the <see cref="Outputs"/> by running only the block.</summary>
/// <param name="Layers">The block's layers (among those asked for), in execution order.</param>
/// <param name="Inputs">The values the block reads that are computed before it: its input activation and side values
/// such as an attention mask; model inputs when the block starts the model.</param>
/// <param name="Outputs">The block's output: the one activation everything after it reads (the next block's input),
/// or the model outputs for the last block.</param>
public sealed record ModelBlock(IReadOnlyList<string> Layers, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);
