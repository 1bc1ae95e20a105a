using Compressor.Host.Results;

namespace Compressor.Host.Pipeline;

/// <summary>What a run produced.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="Files">The files moved into it.</param>
/// <param name="Report">report.json.</param>
/// <param name="Recipe">recipe.json.</param>
/// <param name="ReferenceOnnxBytes">Size of the uncompressed reference ONNX model the run evaluated against (the input
/// model exported once, before the plugins ran), or null without an evaluation.</param>
public sealed record RunResult(string OutputDirectory, IReadOnlyList<string> Files, RunReport Report, RunRecipe Recipe, long? ReferenceOnnxBytes);
