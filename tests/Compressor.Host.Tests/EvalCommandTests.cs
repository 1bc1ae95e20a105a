using Compressor.Sdk.Training;
using Compressor.Host.Pipeline;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Evaluation;
using Compressor.Engine.Training;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary><c>compress eval</c>: metrics on ONNX Runtime agree with TorchSharp's, a model against itself has perfect
/// fidelity, JSON names are stable, and bad inputs give one-line errors with the documented exit codes.</summary>
[Collection(ThreadCountCollection.Name)]
public sealed class EvalCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private const double AccuracyTolerance = 0.001;   // 0.1 percentage point
    private const double ExactTolerance = 1e-9;

    private string ExportFp32()
    {
        string path = Path.Combine(fx.NewDir("eval-fp32"), "fp32.onnx");
        var (code, _, stderr) = HostFixture.Cli("export", fx.ModelPath, "--out", path, "-v", "q");
        Assert.True(code == 0, stderr);
        return path;
    }

    private static JObject EvalJson(params string[] args)
    {
        var (code, stdout, stderr) = HostFixture.Cli(["eval", .. args, "--format", "json", "-v", "q", "--runs", "5"]);
        Assert.True(code == 0, stderr);
        return JObject.Parse(stdout);
    }

    private static double Metric(JObject result, string name, string field = "value") =>
        (double)result["metrics"]!.Single(m => (string?)m["name"] == name)[field]!;

    private static double TorchSharpAccuracy(string checkpoint)
    {
        using var model = HostFixture.Load(checkpoint);
        using var data = DataSources.Open("digits", 0);
        return TaskLoss.Evaluate(model, data.Evaluation, data.Info.Kind, 64, CPU).Accuracy!.Value;
    }

    [Fact]
    public void AccuracyOnOrtEqualsTorchSharpAccuracyForTheFloatModel()
    {
        var result = EvalJson(ExportFp32(), "--data", "digits");
        double ort = Metric(result, EvaluationMetricNames.Accuracy), torch = TorchSharpAccuracy(fx.ModelPath);
        Assert.True(Math.Abs(ort - torch) <= AccuracyTolerance, $"accuracy: ORT {ort} vs TorchSharp {torch} (tolerance {AccuracyTolerance})");
        Assert.Equal(359, (long)result["samples"]!);
    }

    [Fact]
    public void AccuracyOnOrtEqualsTorchSharpAccuracyForTheCompressedModel()
    {
        string outDir = fx.NewDir("eval-rtn");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--data", "digits", "-v", "q");
        Assert.True(code == 0, stderr);
        var result = EvalJson(Path.Combine(outDir, OnnxStage.FileName), "--data", "digits");
        double ort = Metric(result, EvaluationMetricNames.Accuracy), torch = TorchSharpAccuracy(Path.Combine(outDir, RunPipeline.CheckpointFile));
        Assert.True(Math.Abs(ort - torch) <= AccuracyTolerance, $"accuracy: ORT {ort} vs TorchSharp {torch} (tolerance {AccuracyTolerance})");
    }

    [Fact]
    public void AModelAgainstItselfHasPerfectFidelityAndAllMetricNames()
    {
        string onnx = ExportFp32();
        var result = EvalJson(onnx, "--reference", onnx, "--data", "digits", "--batch-size", "50");
        string[] expected = ["accuracy", "cosine", "top1Agreement", "klDivergence", "latencyMedianMs", "latencyP90Ms", "peakMemoryMB"];
        Assert.Equal(expected, result["metrics"]!.Select(m => (string)m["name"]!).ToArray());
        Assert.True(Math.Abs(Metric(result, "cosine") - 1) <= ExactTolerance, "cosine of a model with itself");
        Assert.Equal(1.0, Metric(result, "top1Agreement"));
        Assert.True(Math.Abs(Metric(result, "klDivergence")) <= ExactTolerance, "KL divergence of a model with itself");
        Assert.Equal(Metric(result, "accuracy"), Metric(result, "accuracy", "reference"));
        foreach (var m in result["metrics"]!) Assert.NotEqual(JTokenType.Null, m["reference"]!.Type);
        Assert.True(Metric(result, "latencyMedianMs") > 0 && Metric(result, "latencyP90Ms") >= Metric(result, "latencyMedianMs"), "latency median ≤ p90");
        var runtime = (JObject)result["runtime"]!;
        Assert.Equal("ORT_ENABLE_ALL", (string?)runtime["optimizationLevel"]);
        Assert.Equal(Environment.ProcessorCount, (int)runtime["intraOpThreads"]!);
        Assert.Equal(50, (int)runtime["batchSize"]!);
        Assert.Equal(5, (int)runtime["runs"]!);
        Assert.Equal(1, (int)result["schemaVersion"]!);
    }

    [Fact]
    public void TextOutputIsATableWithTheRuntimeStated()
    {
        string onnx = ExportFp32();
        var (code, stdout, stderr) = HostFixture.Cli("eval", onnx, "--data", "digits", "--runs", "3", "--threads", "1", "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Contains("METRIC", stdout);
        Assert.Contains("1 intra-op threads", stdout);
        Assert.Contains("ORT_ENABLE_ALL", stdout);
        foreach (var name in new[] { "accuracy", "latencyMedianMs", "latencyP90Ms", "peakMemoryMB" }) Assert.Contains(name, stdout);
    }

    [Fact]
    public void BadInputsGiveOneLineErrors()
    {
        string onnx = ExportFp32();
        string dir = fx.NewDir("eval-bad");
        string garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllText(garbage, "not an onnx model");
        string text = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        var cases = new (string[] Args, ExitCode Code, string Says)[]
        {
            ([Path.Combine(dir, "missing.onnx"), "--data", "digits"], ExitCode.InvalidInput, "no such file"),
            ([onnx, "--reference", Path.Combine(dir, "missing.onnx"), "--data", "digits"], ExitCode.InvalidInput, "no such file"),
            ([garbage, "--data", "digits"], ExitCode.InvalidInput, "is not an ONNX model"),
            ([onnx, "--data", "nonsense"], ExitCode.InvalidArguments, "unknown kind"),
            ([onnx, "--data", "digits", "--batch-size", "0"], ExitCode.InvalidArguments, "--batch-size"),
            ([onnx, "--data", "digits", "--runs", "0"], ExitCode.InvalidArguments, "--runs"),
            ([onnx], ExitCode.InvalidArguments, "--data"),
            ([onnx, "--data", $"text:{text},context=16"], ExitCode.InvalidInput, "input"),
        };
        foreach (var (args, expected, says) in cases)
        {
            var (code, stdout, stderr) = HostFixture.Cli(["eval", .. args, "-v", "q"]);
            Assert.True((int)expected == code, $"eval {string.Join(' ', args)}: exit {code}, expected {(int)expected}; stderr: {stderr}");
            Assert.Equal("", stdout);
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"one line expected, got: {stderr}");
            Assert.StartsWith("error: ", lines[0]);
            Assert.Contains(says, lines[0]);
        }
    }
}
