using Compressor.Sdk.Layers;

namespace Compressor.Host.Search;

/// <summary>Everything <c>compress search</c> was asked to do.</summary>
/// <param name="ModelPath">The input checkpoint or ONNX model.</param>
/// <param name="Data">The data spec (calibration for the plugins, evaluation for the metric).</param>
/// <param name="Budget">The <c>--budget</c>.</param>
/// <param name="Keep">The <c>--keep</c>.</param>
/// <param name="OutputDirectory">Where the chosen model, its recipe and the search report go.</param>
/// <param name="Methods">The plugins whose treatments are searched.</param>
/// <param name="Bits">Bit widths of the quantizers.</param>
/// <param name="Groups">Group sizes of the quantizers (0: per output channel).</param>
/// <param name="Target">size or speed (the export target of the candidates).</param>
/// <param name="Sensitivity">How layer damages are found.</param>
/// <param name="SensitivitySeconds">With <see cref="SensitivityMode.Auto"/>: the longest estimated measurement that is still measured.</param>
/// <param name="Samples">Evaluation samples of the in-process measurements.</param>
/// <param name="FisherSamples">Samples of the Fisher pass.</param>
/// <param name="MaxCandidates">Most candidates run end to end.</param>
/// <param name="Include">Layers searched (globs; empty: every linear and conv layer).</param>
/// <param name="Exclude">Layers left as they are (globs).</param>
/// <param name="Seed">The seed.</param>
/// <param name="Device">The device.</param>
/// <param name="Architecture">A built-in architecture for a foreign checkpoint, or null.</param>
/// <param name="Heads">Attention heads of a foreign ViT, or null.</param>
/// <param name="Opset">The ONNX opset, or null.</param>
/// <param name="EvalLimit">The end-to-end evaluation's sample limit, or null.</param>
/// <param name="WorkDirectory">The cache folder (null: OUT/.work).</param>
/// <param name="TrialSamples">Evaluation samples of the per-layer trials (the first ones), or null: <paramref name="Samples"/>.</param>
public sealed record SearchRequest(
    string ModelPath,
    string Data,
    BudgetSpec Budget,
    KeepSpec Keep,
    string OutputDirectory,
    IReadOnlyList<string> Methods,
    IReadOnlyList<int> Bits,
    IReadOnlyList<int> Groups,
    ExportTarget Target = ExportTarget.Size,
    SensitivityMode Sensitivity = SensitivityMode.Auto,
    double SensitivitySeconds = 600,
    long Samples = 256,
    int FisherSamples = 64,
    int MaxCandidates = 4,
    IReadOnlyList<string>? Include = null,
    IReadOnlyList<string>? Exclude = null,
    int Seed = 0,
    string Device = "cpu",
    string? Architecture = null,
    int? Heads = null,
    int? Opset = null,
    long? EvalLimit = null,
    string? WorkDirectory = null,
    long? TrialSamples = null);
