using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Codebook;
using Compressor.Plugins.Jlcm;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Plugins.Jlcm.Algorithm;

namespace JLCM.Tests;

/// <summary>The block objective: joint learning on each block's output of an imported ONNX graph.</summary>
public sealed class BlockObjectiveTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jlcm-block-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ReportBuilder Run(CompressibleModel model, PluginData data, JlcmOptions options, string work) =>
        PluginTests.Compress(model, data, options, work);

    private static double Metric(ReportBuilder r, string name) => r.Metrics.Single(m => m.Name == name).Value;

    /// <summary>The built-in MLP exported to ONNX and imported back: an imported graph whose blocks are its layers.</summary>
    private CompressibleModel ImportedMlp()
    {
        using var mlp = TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds);
        string path = Path.Combine(_dir, $"mlp-{Guid.NewGuid():N}.onnx");
        OnnxExporter.Export(mlp, path, JlcmKinds.All);
        return ModelIO.Load(path, JlcmKinds.All);
    }

    [Fact]
    public void BlockObjectiveOnAnImportedGraphExportsAndResumes()
    {
        var options = new JlcmOptions { WeightBits = 2, Groups = 4, Iterations = 15, CalibrationSamples = 64, Objective = ReconstructionObjective.Block };
        string work = Path.Combine(_dir, "work");
        using var first = ImportedMlp();
        var report = Run(first, PluginTests.Calibration(), options, work);
        var layers = first.Layers();
        Assert.Equal(3, layers.Count);
        Assert.All(layers, l => Assert.Equal(CodebookKinds.Linear.Id, Assert.IsType<CodebookLayer>(l.Module).Kind));
        double init = Metric(report, "reconstructionLossInit"), final = Metric(report, "reconstructionLoss");
        output.WriteLine($"block loss Σ {init:G5} → {final:G5}; folded {Metric(report, "permutationsFolded")}");
        Assert.True(final < init, $"learning did not lower the block loss: {init} → {final}");
        // Relative to the block outputs' mean square: a 2-bit model is neither exact nor worse than outputting zeros.
        Assert.InRange(Metric(report, "reconstructionRelativeLoss"), 1e-6, 1.0);
        Assert.Contains(report.Series, s => s.Name == "indexMoves1" && s.Y.Count == 15);
        var export = OnnxExporter.Export(first, Path.Combine(_dir, "compressed.onnx"), JlcmKinds.All);
        var verified = OnnxVerifier.Verify(first, export);
        Assert.True(verified.Passed, string.Join("; ", verified.Failures));
        Assert.True(verified.SqnrDb > 100, $"ONNX vs TorchSharp SQNR {verified.SqnrDb:F1} dB");

        // Drop the last block's files, as if the run was killed there: the rerun replays the first two blocks.
        foreach (var f in Directory.EnumerateFiles(Path.Combine(work, "layers"), "layer-0002.*")) File.Delete(f);
        using var second = ImportedMlp();
        var resumed = Run(second, PluginTests.Calibration(), options, work);
        Assert.Equal(2, Metric(resumed, "resumedLayers"));
        var a = first.NamedTensors();
        var b = second.NamedTensors();
        Assert.Equal(a.Select(t => t.Name), b.Select(t => t.Name));
        for (int i = 0; i < a.Count; i++) Tolerances.AssertIdentical(a[i].Tensor, b[i].Tensor, a[i].Name);
    }

    [Theory]
    [InlineData(PermutationMode.Fold)]
    [InlineData(PermutationMode.Explicit)]
    public void BiasCorrectionRemovesTheErrorOnInputsWithALargeMean(PermutationMode permutation)
    {
        // Inputs with a large common offset (as after a ReLU, or an image minus a mean image): a 2-bit codebook whose
        // rows no longer sum like the FP rows turns the offset into a constant output error, which the correction removes.
        var x = TinyModels.Inputs([64, 64], seed: 11).add(4.0);
        var data = new PluginData(null, new TensorDataSet("offset", x, null), null);
        double Relative(bool correct)
        {
            using var model = ImportedMlp();
            var report = Run(model, data, new JlcmOptions { WeightBits = 2, Groups = 4, Method = JlcmMethod.Kmeans, CalibrationSamples = 64, BiasCorrection = correct, Permutation = permutation }, Directory.CreateTempSubdirectory("jlcm-work-").FullName);
            return Metric(report, "reconstructionRelativeLoss");
        }
        double without = Relative(false), with = Relative(true);
        output.WriteLine($"relative block loss, 2-bit k-means on offset inputs, permutation {permutation}: without bias correction {without:P2}, with {with:P2}");
        // A real reduction, not noise: at least a fifth of the error was the constant part.
        Assert.True(with < 0.8 * without, $"bias correction {with} vs none {without}");
    }

    [Fact]
    public void BlockObjectiveNeedsAnImportedGraph()
    {
        using var model = TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds);
        var ex = Assert.Throws<CompressException>(() => Run(model, PluginTests.Calibration(), new JlcmOptions { Objective = ReconstructionObjective.Block, Iterations = 1 }, Path.Combine(_dir, "w")));
        Assert.Equal(ErrorKind.InvalidOptions, ex.Kind);
        Assert.Contains("--objective layer", ex.Message);
    }

    [Fact]
    public void BlockLearningBeatsKmeansOnARealFeedForwardBlock()
    {
        // all-MiniLM-L6-v2's first feed-forward block (384 → 1536 → 384 with GELU, residual and LayerNorm), real
        // sentences; the loss is the block output's MSE against the FP block on the same inputs.
        var files = PretrainedModels.MiniLm();
        var data = new PluginData(null, MiniLmSentences.TokenIds(), null);
        var options = new JlcmOptions
        {
            WeightBits = 2, Groups = 4, CalibrationSamples = MiniLmSentences.Sentences.Length, Objective = ReconstructionObjective.Block,
            Include = ["encoder.layer.0.intermediate.dense", "encoder.layer.0.output.dense"],
        };
        double Loss(JlcmOptions o)
        {
            using var model = ModelIO.Load(files.ModelPath, JlcmKinds.All);
            var report = Run(model, data, o, Directory.CreateTempSubdirectory("jlcm-work-").FullName);
            return Metric(report, "reconstructionLoss");
        }
        double kmeans = Loss(options with { Method = JlcmMethod.Kmeans });
        double learned = Loss(options with { Iterations = 20 });
        output.WriteLine($"feed-forward block 0, 2-bit G = 4: block loss k-means {kmeans:G5}, joint learning (20 iterations) {learned:G5} ({learned / kmeans:P1})");
        // Learning must buy a real reduction, not float noise: at least 10% below k-means on this block.
        Assert.True(learned < 0.9 * kmeans, $"joint learning {learned} vs k-means {kmeans}");
    }
}
