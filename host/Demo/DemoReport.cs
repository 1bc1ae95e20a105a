using Compressor.Engine.Evaluation;
using Compressor.Host.Results;

namespace Compressor.Host.Demo;

/// <summary>The demo's report.json (schema version 1, documented in docs/report-schema.md): the base model, the FP32
/// reference row, and one row per step with its status, sizes, bits per weight, ORT metrics against the FP32
/// reference, verification summary and the series its plugins logged. Built from the steps' typed run reports;
/// <see cref="DemoTable"/> and <see cref="DemoReportHtml"/> read it.</summary>
public sealed record DemoReport(
    int SchemaVersion,
    string Kind,
    ToolInfo Tool,
    string Model,
    string Description,
    bool Quick,
    int Seed,
    string Data,
    DemoBaseModel Base,
    string PrimaryMetric,
    DemoFp32Row? Fp32,
    IReadOnlyList<DemoStepEntry> Steps,
    double Seconds)
{
    /// <summary>The schema version.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The JSON report's file name.</summary>
    public const string JsonFile = "report.json";

    /// <summary>The HTML report's file name.</summary>
    public const string HtmlFile = "report.html";

    /// <summary>The steps that ran.</summary>
    public IEnumerable<DemoStepRun> Ran() => Steps.OfType<DemoStepRun>();

    /// <summary>The metric that ranks steps for the data kind: accuracy on labelled images, cosine to the FP32
    /// outputs otherwise.</summary>
    public static string PrimaryMetricOf(IEnumerable<DemoStepResult> results) =>
        results.Where(r => r.Run is not null).SelectMany(r => r.Run!.Report.Metrics).Any(m => m.Name == EvaluationMetricNames.Accuracy)
            ? EvaluationMetricNames.Accuracy : EvaluationMetricNames.Cosine;

    /// <summary>Builds the report.</summary>
    /// <param name="plan">The plan that ran.</param>
    /// <param name="request">The demo's request.</param>
    /// <param name="data">The data spec the steps ran with (absolute paths).</param>
    /// <param name="baseModel">The base model.</param>
    /// <param name="results">Each step's outcome, in order.</param>
    /// <param name="seconds">Wall time of the whole demo.</param>
    public static DemoReport Build(DemoPlan plan, DemoRequest request, string data, DemoBaseModel baseModel, IReadOnlyList<DemoStepResult> results, double seconds)
    {
        string outDir = Path.GetFullPath(request.OutputDirectory);
        DemoFp32Row? fp32 = null;
        if (results.FirstOrDefault(r => r.Status == DemoStepStatus.Ok)?.Run is { } first)
        {
            var references = new Dictionary<string, double?>(StringComparer.Ordinal);
            foreach (var m in first.Report.Metrics)
                if (m.Reference is { } r) references[m.Name] = r;
            fp32 = new DemoFp32Row("FP32 (uncompressed)", baseModel.Bytes, first.ReferenceOnnxBytes is > 0 ? first.ReferenceOnnxBytes : null, 32, references);
        }
        string shownData = data.StartsWith("sentences:", StringComparison.Ordinal)
            ? "sentences:" + Path.GetRelativePath(outDir, data["sentences:".Length..].Split(',')[0]) + Tail(data)
            : data;
        return new DemoReport(CurrentSchemaVersion, "demo", ToolInfo.Current, plan.Model, plan.Description, request.Quick, request.Seed, shownData,
            baseModel, PrimaryMetricOf(results), fp32, [.. results.Select(r => Step(r, outDir))], Math.Round(seconds, 2));
    }

    private static string Tail(string spec) => spec.IndexOf(',') is var i and >= 0 ? spec[i..] : "";

    private static DemoStepEntry Step(DemoStepResult r, string outDir)
    {
        string name = r.Step.Name, title = r.Step.Title;
        IReadOnlyList<string> plugins = [.. r.Step.Recipe.Select(p => p.Plugin)];
        string recipe = Path.Combine(DemoRunner.RecipesFolder, name + ".json");
        double seconds = Math.Round(r.Seconds, 2);
        if (r.Status != DemoStepStatus.Ok || r.Run is not { } run)
            return new DemoStepEntry(name, title, r.Status, r.Reason, plugins, r.Status == DemoStepStatus.Skipped ? null : recipe, seconds);
        var report = run.Report;
        var metrics = new Dictionary<string, double?>(StringComparer.Ordinal);
        var reference = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var m in report.Metrics)
        {
            metrics[m.Name] = m.Value;
            reference[m.Name] = m.Reference;
        }
        var v = report.Verification;
        return new DemoStepRun(name, title, r.Status, r.Reason, plugins, recipe, seconds,
            Path.GetRelativePath(outDir, run.OutputDirectory), report.Steps, report.Output.BitsPerWeight, report.Output.Onnx?.BitsPerWeight,
            report.Output.BytesOnDisk, report.Output.TheoreticalBytes, report.Output.Onnx?.BytesOnDisk, run.ReferenceOnnxBytes is > 0 ? run.ReferenceOnnxBytes : null,
            v is null ? null : new DemoVerification(v.Passed, v.SqnrDb, v.Optimized.SqnrDb, v.FusedKernels),
            metrics, reference, report.Series, report.Warnings, report.Headline?.Text, FloatStorage(report).ValueBits, FloatStorage(report).StoredShare);
    }

    /// <summary>When every compressed layer of <paramref name="report"/> stores plain floats of one width: that width and
    /// the stored values' share of the replaced weights.</summary>
    private static (int? ValueBits, double? StoredShare) FloatStorage(RunReport report)
    {
        var layers = report.Layers;
        if (layers.Count == 0 || layers.Any(l => l.ValueBits is null) || layers.Select(l => l.ValueBits).Distinct().Count() != 1) return (null, null);
        double weights = layers.Sum(l => l.Shape.Aggregate(1.0, (a, x) => a * x));
        return (layers[0].ValueBits, Math.Round(layers.Sum(l => l.StoredShare!.Value * l.Shape.Aggregate(1.0, (a, x) => a * x)) / weights, 6));
    }
}
