using Compressor.Engine.Models;

namespace Compressor.Host.Results;

/// <summary>recipe.json: what a run did, complete enough to run again (<c>compress run recipe.json</c> reads its
/// <c>seed</c>, <c>steps</c>, <c>target</c> and <c>preMerge</c> and ignores the rest). Schema in docs/report-schema.md.</summary>
/// <param name="SchemaVersion"><see cref="RunReport.CurrentSchemaVersion"/>.</param>
/// <param name="Tool">The tool that ran it.</param>
/// <param name="Seed">The seed of every random choice.</param>
/// <param name="Device">The device it ran on.</param>
/// <param name="Input">The input checkpoint.</param>
/// <param name="Data">The data spec, or null.</param>
/// <param name="Steps">The steps that ran, each with every option (defaults included).</param>
/// <param name="Target">The export target of model.onnx: <c>size</c> or <c>speed</c> (<c>--target</c>; a recipe run
/// again uses it unless <c>--target</c> is given).</param>
/// <param name="PreMerge">The pre-merge decisions of model.onnx (<c>--deploy-tokens N</c> &gt; 0 and structured layers;
/// else null): a run of this recipe makes the same ones instead of measuring the break-evens again.</param>
public sealed record RunRecipe(int SchemaVersion, ToolInfo Tool, int Seed, string Device, InputFile Input, string? Data, IReadOnlyList<AppliedStep> Steps,
    string Target = "size", PreMergeReport? PreMerge = null);
