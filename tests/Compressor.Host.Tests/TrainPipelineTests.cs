using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Host.Pipeline;
using Compressor.Host.Results;
using Compressor.Layers;
using Compressor.Sdk.Diagnostics;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress train</c> is a thin command over <see cref="TrainPipeline"/>, which the demo calls too.</summary>
public sealed class TrainPipelineTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static TrainResult Train(string outDir) =>
        new TrainPipeline(new LayerKindSet(BuiltInLayerKinds.All), NullPluginLogger.Instance, NullProgressReporter.Instance)
            .Execute(new TrainRequest("mlp", "digits,limit=300", outDir, Epochs: 2, Seed: 3), CancellationToken.None);

    [Fact]
    public void ThePipelineWritesTheModelAndATypedTrainReport()
    {
        string outDir = fx.NewDir("train-pipeline");
        var result = Train(outDir);
        Assert.Equal([TrainResult.ModelFile, TrainResult.ReportFile], result.Files.Select(Path.GetFileName));
        Assert.Equal(Path.Combine(outDir, TrainResult.ModelFile), result.ModelPath);
        var r = result.Report;
        Assert.Equal(2, r.History.Count);
        Assert.Same(r.History[^1], r.Final);
        Assert.Equal("mlp", r.Architecture.Name);
        Assert.Equal(new TrainData("digits,limit=300", "digits", 300, 359), r.Data);
        Assert.Equal(TrainReport.TrainedByThisProject, r.TrainedBy);
        Assert.Equal(ResultJson.Serialize(r) + "\n", File.ReadAllText(Path.Combine(outDir, TrainResult.ReportFile)));
        Assert.False(Directory.Exists(Path.Combine(outDir, TrainPipeline.WorkFolder)));
        // The checkpoint's metadata carries the last epoch without its timing, and the architecture.
        using (var reader = CheckpointFormats.Open(result.ModelPath))
        {
            var final = JObject.Parse(reader.Metadata[TrainPipeline.TrainingMetadataKey]);
            Assert.Equal(["Epoch", "TrainLoss", "EvalLoss", "EvalAccuracy", "EvalPerplexity"], final.Properties().Select(p => p.Name));
            Assert.Equal(r.Final.EvalAccuracy, (double?)final["EvalAccuracy"]);
        }
        using var model = HostFixture.Load(result.ModelPath);
        Assert.Equal("mlp", model.ArchitectureName);
        Assert.Equal(r.Parameters, model.ParameterCount());
    }

    [Fact]
    public void TheCommandWritesWhatThePipelineWrites()
    {
        string a = fx.NewDir("train-a"), b = fx.NewDir("train-b");
        Train(a);
        var (code, _, stderr) = HostFixture.Cli("train", "mlp", "--data", "digits,limit=300", "--epochs", "2", "--seed", "3", "--out", b, "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, TrainResult.ModelFile)), File.ReadAllBytes(Path.Combine(b, TrainResult.ModelFile)));
        static string WithoutTimes(string dir)
        {
            var o = JObject.Parse(File.ReadAllText(Path.Combine(dir, TrainResult.ReportFile)));
            foreach (var p in o.Descendants().OfType<JProperty>().Where(p => p.Name is "seconds" or "Seconds").ToList()) p.Value = JValue.CreateNull();
            return o.ToString();
        }
        Assert.Equal(WithoutTimes(a), WithoutTimes(b));
    }

    [Fact]
    public void BadRequestsAreOptionErrorsBeforeAnythingIsWritten()
    {
        string outDir = Path.Combine(fx.NewDir("train-bad"), "out");
        var e = Assert.Throws<Compressor.Sdk.CompressException>(() =>
            new TrainPipeline(new LayerKindSet(BuiltInLayerKinds.All), NullPluginLogger.Instance, NullProgressReporter.Instance)
                .Execute(new TrainRequest("mlp", "digits", outDir, Epochs: 0), CancellationToken.None));
        Assert.Equal(Compressor.Sdk.ErrorKind.InvalidOptions, e.Kind);
        Assert.False(Directory.Exists(outDir));
    }
}
