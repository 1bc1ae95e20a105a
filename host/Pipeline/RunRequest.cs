namespace Compressor.Host.Pipeline;

/// <summary>Everything <c>compress run</c> was asked to do.</summary>
/// <param name="Target">A plugin id or a recipe file.</param>
/// <param name="ModelPath">The input checkpoint, or a Hugging Face / timm model folder.</param>
/// <param name="OutputDirectory">Where outputs go.</param>
/// <param name="Architecture">A built-in architecture name for a foreign checkpoint (null: from the file or folder;
/// its sizes come from the config or the tensors).</param>
/// <param name="Data">The data spec, or null.</param>
/// <param name="Seed">The seed (null: the recipe's, else 0).</param>
/// <param name="Device">auto, cpu, cuda or cuda:N.</param>
/// <param name="PluginArguments">Plugin option tokens (single-plugin runs only).</param>
/// <param name="WorkDirectory">Resumable state folder (null: OUT/.work).</param>
/// <param name="Opset">The ai.onnx opset of model.onnx (null: 21, or 25 where 2-bit weights need it).</param>
/// <param name="TimeoutSeconds">Longest time one plugin step may run (null: no limit).</param>
/// <param name="MaxMemory">The memory limit as written on the command line (e.g. <c>2GB</c>; null: no limit), see
/// <see cref="Compressor.Sdk.Plugins.MemoryBudget"/>.</param>
/// <param name="EvalLimit">Evaluate at most this many samples of the evaluation split (null: all).</param>
/// <param name="ExportTarget">What model.onnx is optimised for (<c>--target</c>; null: the recipe's, else size).</param>
/// <param name="Heads">Attention heads of a checkpoint whose sizes are inferred from its tensors (<c>--heads</c>), or null.</param>
/// <param name="Stream">Whether to hold one block at a time (<c>--stream</c>: auto, on, off; null: auto), see <see cref="StreamMode"/>.</param>
/// <param name="DeployTokens">Tokens per inference call model.onnx is made for (<c>--deploy-tokens</c>; null: the recipe's
/// pre-merge decisions, else 0: as the checkpoint records), see <see cref="PreMergeChoice"/>.</param>
public sealed record RunRequest(
    string Target,
    string ModelPath,
    string OutputDirectory,
    string? Architecture,
    string? Data,
    int? Seed,
    string Device,
    IReadOnlyList<string> PluginArguments,
    string? WorkDirectory,
    int? Opset = null,
    double? TimeoutSeconds = null,
    string? MaxMemory = null,
    long? EvalLimit = null,
    Compressor.Sdk.Layers.ExportTarget? ExportTarget = null,
    int? Heads = null,
    string? Stream = null,
    int? DeployTokens = null);
