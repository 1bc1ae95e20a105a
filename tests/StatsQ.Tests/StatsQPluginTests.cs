using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Layers;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Compressor.Engine.Training;
using Compressor.Sdk.Training;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace StatsQ.Tests;

/// <summary>The plugin end to end on the fixture's digits ViT: QAT → shipped layers → checkpoint reload → ONNX export
/// through the SDK's verification gate (parity, size, ORT compatibility) → ORT accuracy.</summary>
[Collection(TrainedVitCollection.Name)]
public sealed class StatsQPluginTests(TrainedVitFixture fx)
{
    [Theory]
    [InlineData(4, 4, WeightQuantizerKind.StatsQ, true, true, false)]
    [InlineData(3, 3, WeightQuantizerKind.Lsq, false, false, false)]
    public void ShipsAVitThatOnnxRuntimeReproduces(int wbits, int abits, WeightQuantizerKind kind, bool qkr, bool cga, bool keepQueryBias)
    {
        using var model = fx.Load();
        var report = new ReportBuilder();
        var work = Directory.CreateTempSubdirectory("statsq-plugin-").FullName;
        string onnx = Path.Combine(work, "model.onnx"), checkpoint = Path.Combine(work, "model.safetensors");
        try
        {
            var options = new StatsQOptions
            {
                WeightBits = wbits, ActivationBits = abits, Quantizer = kind, Qkr = qkr, Cga = cga, CgaEpochs = 1, KeepQueryBias = keepQueryBias,
                Epochs = 1, BatchSize = 64, LearningRate = 5e-4,
            };
            var context = new PluginContext
            {
                Model = model, Resume = new FolderResumeStore(Path.Combine(work, "w"), StatsQTestKinds.All), Report = report, Seed = 0,
                Data = new PluginData(fx.Data.Train, fx.Data.Calibration, fx.Data.Evaluation),
            };
            new StatsQPlugin().Run(context, options);
            var kinds = CompressionManifest.Of(Assert.IsAssignableFrom<EngineModel>(model)).Layers.Values.Select(l => l.Kind).ToList();
            Assert.Equal(2, kinds.Count(k => k == StatsQAttentionKind.KindId));       // 2 blocks
            Assert.Equal(1, kinds.Count(k => k == StatsQConv2dKind.KindId));          // patch embedding
            Assert.Equal(5, kinds.Count(k => k == StatsQLinearKind.KindId));          // fc1, fc2 per block + head
            double qat = report.Metrics.Single(m => m.Name == "qatAccuracy").Value;
            double shipped = report.Metrics.Single(m => m.Name == "shippedAccuracy").Value;
            // The shipped layers compute the QAT forward up to float rounding (a·k + a/2 vs s·(k + ½)/n, clamp before
            // dividing): a sample or two of the 192 held out may flip.
            Assert.InRange(shipped, qat - 0.011, qat + 0.011);

            ModelIO.Save(Assert.IsAssignableFrom<EngineModel>(model), checkpoint);
            using (var reloaded = ModelIO.Load(checkpoint, StatsQTestKinds.All))
            using (var x = fx.Data.Evaluation.Batches(32).First())
            using (var y1 = model.Forward(x.Input))
            using (var y2 = reloaded.Forward(x.Input))
                Tolerances.AssertIdentical(y1, y2, "outputs after reload");

            var export = OnnxExporter.Export(model, onnx, StatsQTestKinds.All);
            var verification = OnnxVerifier.Verify(model, export);
            Assert.True(verification.Passed, string.Join("; ", verification.Failures));
            Assert.All(verification.Layers, s => Assert.InRange(s.Ratio, 0.9, 1.02));

            // ORT accuracy on the held-out split equals TorchSharp's.
            var batch = fx.Data.Evaluation.Batches((int)fx.Data.Evaluation.Count).First();
            using var torchLogits = model.Forward(batch.Input);
            using var ortLogits = OrtRunner.Run(onnx, "images", batch.Input);
            double torchAcc = torchLogits.argmax(-1).eq(batch.Target!).to_type(ScalarType.Float64).mean().item<double>();
            double ortAcc = ortLogits.argmax(-1).eq(batch.Target!).to_type(ScalarType.Float64).mean().item<double>();
            Assert.InRange(ortAcc, torchAcc - 0.011, torchAcc + 0.011);
            batch.Dispose();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Theory]
    [InlineData("gpt", "a causal mask")]
    [InlineData("bert", "separate q/k/v projections, a padding mask")]
    [InlineData("llama", "rotary position embeddings, grouped-query attention")]
    public void AttentionFormsItCannotRewriteAreNamedInOneLine(string architecture, string form)
    {
        using var model = Compressor.Engine.Checkpoints.ArchitectureRegistry.CreateModel(
            Compressor.Engine.Checkpoints.ArchitectureRegistry.Spec(architecture, new Newtonsoft.Json.Linq.JObject { ["layers"] = 1 }), StatsQTestKinds.All);
        string work = Directory.CreateTempSubdirectory("statsq-forms-").FullName;
        try
        {
            var e = Assert.Throws<CompressException>(() => new StatsQPlugin().Run(
                new PluginContext { Model = model, Resume = new FolderResumeStore(work, StatsQTestKinds.All) }, new StatsQOptions()));
            Assert.Contains("QKR", e.Message);
            Assert.Contains(form, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public void NoTrainingDataIsAClearError()
    {
        using var model = fx.Load();
        string work = Directory.CreateTempSubdirectory("statsq-nodata-").FullName;
        try
        {
            var e = Assert.Throws<CompressException>(() => new StatsQPlugin().Run(
                new PluginContext { Model = model, Resume = new FolderResumeStore(work, StatsQTestKinds.All) }, new StatsQOptions()));
            Assert.Contains("--data", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
