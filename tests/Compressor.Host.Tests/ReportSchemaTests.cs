using Compressor.Host.Pipeline;

namespace Compressor.Host.Tests;

/// <summary>report.json, recipe.json, train.json and every <c>--format json</c> output keep the field names (and their
/// order) the tool wrote before the SDK 2.0 redesign: docs/report-schema.md is the contract, <c>schemaVersion</c> stays 1.
/// Golden/*.fields were listed from the old tool's files; the demo's report is checked in DemoCommandTests.</summary>
public sealed class ReportSchemaTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly string[] SpeedUp = ["speedUp", "speedUp.median", "speedUp.p25", "speedUp.p75", "speedUp.runs"];

    /// <summary>Fields added to report.json within schema version 1 (issue 19): the evaluation's sample counts, limit,
    /// speed-up and reference size, the headline, and the size breakdown (docs/report-schema.md, "added").</summary>
    private static readonly string[] AddedToRunReport =
    [
        "evaluation.availableSamples", "evaluation.limit", .. SpeedUp.Select(f => "evaluation." + f), "evaluation.referenceBytes",
        "headline", "headline.text", "headline.sizeRatio", "headline.sizeBasis", "headline.metric", "headline.metricChange", .. SpeedUp.Select(f => "headline." + f),
        "sizes", "sizes.file", "sizes.totalBytes", "sizes.compressedLayers", "sizes.compressedBytes", "sizes.fp32Bytes", "sizes.otherTensorBytes",
        "sizes.overheadBytes", "sizes.fp32Layers",
    ];

    [Fact]
    public void RunReportRecipeAndRunJsonKeepTheirFields()
    {
        string outDir = fx.NewDir("schema-run");
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--data", "digits", "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        // Added within the version: issue 19's fields (above) and issue 18's export target and per-layer kernels.
        JsonFields.AssertMatchGolden("cli-run.fields", stdout, [.. AddedToRunReport.Select(f => "report." + f), .. VerificationAdded.Select(f => "report." + f)]);
        JsonFields.AssertMatchGolden("run-report.fields", File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)), [.. AddedToRunReport, .. VerificationAdded]);
        // Added within the version: the export target (issue 18) and the pre-merge decisions of --deploy-tokens (issue 17; null for rtn).
        JsonFields.AssertMatchGolden("recipe.fields", File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)), "target", "preMerge");

        string onnx = Path.Combine(fx.NewDir("schema-export"), "m.onnx");
        var export = HostFixture.Cli("export", Path.Combine(outDir, RunPipeline.CheckpointFile), "--out", onnx, "--format", "json", "-v", "q");
        Assert.True(export.Code == 0, export.Err);
        // Added within the version: the export-time pre-merge decisions (issue 17; empty for rtn).
        JsonFields.AssertMatchGolden("cli-export.fields", export.Out, [.. VerificationAdded, "preMerge"]);

        string fp32 = Path.Combine(fx.NewDir("schema-fp32"), "fp32.onnx");
        Assert.Equal(0, HostFixture.Cli("export", fx.ModelPath, "--out", fp32, "-v", "q").Code);
        var eval = HostFixture.Cli("eval", onnx, "--reference", fp32, "--data", "digits", "--runs", "2", "--format", "json", "-v", "q");
        Assert.True(eval.Code == 0, eval.Err);
        JsonFields.AssertMatchGolden("cli-eval.fields", eval.Out, ["availableSamples", .. SpeedUp]);
    }

    private static readonly string[] VerificationAdded =
    [
        "verification.target", "verification.layerKernels", "verification.layerKernels[].layer", "verification.layerKernels[].kind",
        "verification.layerKernels[].form", "verification.layerKernels[].kernels", "verification.fallbackLayers",
        "verification.teacherForcedSqnrDb", "verification.teacherForcedOutputs",
    ];

    [Fact]
    public void TrainJsonAndTrainOutputKeepTheirFields()
    {
        string outDir = fx.NewDir("schema-train");
        var (code, stdout, stderr) = HostFixture.Cli("train", "mlp", "--data", "digits,limit=200", "--epochs", "1", "--out", outDir, "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        JsonFields.AssertMatchGolden("cli-train.fields", stdout);
        JsonFields.AssertMatchGolden("train.fields", File.ReadAllText(Path.Combine(outDir, TrainResult.ReportFile)));
    }

    [Fact]
    public void InspectAndPluginOutputsKeepTheirFields()
    {
        // Added within the version: the model folder a directory argument describes (null for a file).
        JsonFields.AssertMatchGolden("cli-inspect.fields", HostFixture.Cli("inspect", fx.ModelPath, "--format", "json").Out, "folder");
        JsonFields.AssertMatchGolden("cli-describe.fields", HostFixture.Cli("plugin", "describe", "rtn", "--format", "json").Out);
        // Added within the version: the layer kinds each plugin declares, and the device plugins run on.
        JsonFields.AssertMatchGolden("cli-plugins.fields", HostFixture.Cli("plugin", "list", "--format", "json").Out, "plugins[].layerKinds",
            "device", "device.type", "device.devices", "device.libTorch", "device.source", "device.libTorchDirectory", "device.cuda", "device.driverCuda",
            "device.libTorchSharp", "device.problem");
    }

    [Fact]
    public void TheFieldListerSeesNestedArraysAndSkipsOpenMaps()
    {
        var fields = JsonFields.Of("""{"a": 1, "b": [{"c": 2}, {"d": {"e": 3}}], "options": {"x": 1}, "metrics": {"m": 1}, "m2": {"metrics": [{"name": "n"}]}}""");
        Assert.Equal(["a", "b", "b[].c", "b[].d", "b[].d.e", "options", "metrics", "m2", "m2.metrics", "m2.metrics[].name"], fields);
    }
}
