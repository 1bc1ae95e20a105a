using Compressor.Engine.Models;
using Compressor.Host.Results;
using Newtonsoft.Json;

namespace Compressor.Host.Demo;

/// <summary>A demo step that ran (status <c>ok</c>): besides <see cref="DemoStepEntry"/>'s fields, what its run
/// report says in short. Its own full report is <c>steps/NAME/report.json</c>.</summary>
/// <param name="OutputDirectory">Its output folder, relative to the demo's.</param>
/// <param name="Steps">The steps that ran, with their options.</param>
/// <param name="BitsPerWeight">Storage bits per compressed weight of the checkpoint.</param>
/// <param name="OnnxBitsPerWeight">The same in the ONNX file.</param>
/// <param name="CheckpointBytes">The checkpoint's size.</param>
/// <param name="TheoreticalBytes">Its theoretical size.</param>
/// <param name="OnnxBytes">The ONNX model's size.</param>
/// <param name="ReferenceOnnxBytes">The size of the FP32 reference it was evaluated against.</param>
/// <param name="Verification">The gate's summary (left out when no ONNX model was written).</param>
/// <param name="Metrics">{name: value} of every metric of the run: the ORT metrics of the compressed model and the
/// plugins' own.</param>
/// <param name="Reference">{name: value} of the FP32 model in the same measurements (null for the plugins' metrics).</param>
/// <param name="Series">Curves the plugins logged.</param>
/// <param name="Warnings">The run's warnings.</param>
/// <param name="Headline">The run's headline (size ratio, metric change, speed-up with its spread).</param>
/// <param name="ValueBits">When every compressed layer stores plain floats (low-rank factors): their bits (32); else left out.</param>
/// <param name="StoredShare">With <paramref name="ValueBits"/>: the stored values' share of the replaced weights.</param>
public sealed record DemoStepRun(
    string Name, string Title, DemoStepStatus Status, string? Reason, IReadOnlyList<string> Plugins, string? Recipe, double Seconds,
    string OutputDirectory,
    IReadOnlyList<AppliedStep> Steps,
    double? BitsPerWeight,
    double? OnnxBitsPerWeight,
    long CheckpointBytes,
    long TheoreticalBytes,
    long? OnnxBytes,
    long? ReferenceOnnxBytes,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] DemoVerification? Verification,
    IReadOnlyDictionary<string, double?> Metrics,
    IReadOnlyDictionary<string, double?> Reference,
    IReadOnlyList<SeriesResult> Series,
    IReadOnlyList<string> Warnings,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] string? Headline = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] int? ValueBits = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] double? StoredShare = null)
    : DemoStepEntry(Name, Title, Status, Reason, Plugins, Recipe, Seconds);
