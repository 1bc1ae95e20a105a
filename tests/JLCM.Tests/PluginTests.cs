using Compressor.Engine.Data;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Codebook;
using Compressor.Layers.Quantized;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace JLCM.Tests;

/// <summary>The plugin on the built-in MLP: folding keeps the function, the export reproduces the TorchSharp model
/// in ONNX Runtime, an interrupted run resumes, and the report carries the accounted bits (plugins/JLCM/README.md,
/// "Memory accounting") and the move series.</summary>
public sealed class PluginTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jlcm-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static PluginData Calibration(long samples = 64, int features = 64, int seed = 11) =>
        new(null, new TensorDataSet("calibration", TinyModels.Inputs([samples, features], seed), null), null);

    /// <summary>Runs the plugin on <paramref name="model"/> (seed 3) and returns its report.</summary>
    internal static ReportBuilder Compress(CompressibleModel model, PluginData data, JlcmOptions options, string work)
    {
        var report = new ReportBuilder();
        new JlcmPlugin().Run(new PluginContext { Model = model, Data = data, Resume = new FolderResumeStore(work, JlcmKinds.All), Report = report, Seed = 3 }, options);
        return report;
    }

    private (CompressibleModel Model, ReportBuilder Report) Run(JlcmOptions options, string? work = null, CompressibleModel? model = null)
    {
        model ??= TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds);
        return (model, Compress(model, Calibration(), options, work ?? Directory.CreateTempSubdirectory("jlcm-work-").FullName));
    }

    [Fact]
    public void FoldingLeavesTheOutputsUnchanged()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds);
        var x = TinyModels.Inputs([16, 64], seed: 2);
        var before = model.Forward(x).detach().clone();
        var layers = model.Layers();
        var w = ((TorchSharp.Modules.Linear)layers[0].Module).weight!.detach().clone();
        var order = tensor(RowGrouping.Order(w, 4, GroupingMethod.Sort, RowStatistic.Std, 10));
        string? consumer = PermutationFolding.TryFold(model, layers, 0, order, () => model.Forward(x).detach().flatten());
        Assert.Equal(layers[1].Name, consumer);
        // The rows really moved (not a no-op), and the function did not.
        Assert.True(((TorchSharp.Modules.Linear)layers[0].Module).weight!.detach().eq(w.index_select(0, order)).all().item<bool>());
        var after = model.Forward(x);
        double rel = after.sub(before).norm().item<float>() / before.norm().item<float>();
        output.WriteLine($"relative change after folding: {rel:E2}");
        Assert.True(rel <= 1e-5, $"relative change {rel}");
        // The last layer has no consumer: no fold, model unchanged.
        var last = model.Layers();
        var lastW = ((TorchSharp.Modules.Linear)last[^1].Module).weight!.detach().clone();
        Assert.Null(PermutationFolding.TryFold(model, last, last.Count - 1, randperm(10, generator: new Generator(1)), () => model.Forward(x).detach().flatten()));
        Assert.True(((TorchSharp.Modules.Linear)last[^1].Module).weight!.detach().eq(lastW).all().item<bool>());
    }

    [Theory]
    [InlineData(CodebookVariant.Scales, PermutationMode.Fold)]
    [InlineData(CodebookVariant.Codebooks, PermutationMode.Explicit)]
    public void ExportedCodebookOnnxReproducesTorchSharp(CodebookVariant variant, PermutationMode permutation)
    {
        var (model, report) = Run(new JlcmOptions { WeightBits = 2, Groups = 4, Variant = variant, Permutation = permutation, Iterations = 20, CalibrationSamples = 64 });
        using (model)
        {
            var layers = model.Layers();
            Assert.All(layers, l => Assert.Equal(CodebookKinds.Linear.Id, Assert.IsType<CodebookLayer>(l.Module).Kind));
            var codebook = layers.Select(l => (CodebookLayer)l.Module).ToList();
            if (permutation == PermutationMode.Explicit) Assert.Contains(codebook, l => l.Permuted);
            else Assert.Equal(2, report.Metrics.Single(m => m.Name == "permutationsFolded").Value);   // fc1 → fc2, fc2 → head
            var export = OnnxExporter.Export(model, Path.Combine(_dir, $"mlp-{variant}-{permutation}.onnx"), JlcmKinds.All);
            var result = OnnxVerifier.Verify(model, export);
            output.WriteLine($"{variant}/{permutation}: BASIC max abs {result.MaxAbsError:E2} ({result.SqnrDb:F1} dB), bytes {result.Layers.Sum(l => l.Bytes)} / theory {result.Layers.Sum(l => l.TheoreticalBytes)}");
            Assert.True(result.Passed, string.Join("; ", result.Failures));
            Assert.True(result.SqnrDb > 100, $"ONNX vs TorchSharp SQNR {result.SqnrDb:F1} dB");
            // Report: accounted bits per weight (plugins/JLCM/README.md, "Memory accounting") and the move series.
            double accounted = report.Metrics.Single(m => m.Name == "accountedBitsPerWeight").Value;
            long expectedBits = codebook.Sum(l => l.AccountedBits);
            Assert.Equal((double)expectedBits / codebook.Sum(l => l.Rows * l.Columns), accounted, 9);
            Assert.Contains(report.Series, s => s.Name == "indexMoves1" && s.Y.Count == 20);
        }
    }

    [Fact]
    public void InterruptedRunResumesFromTheWorkFolder()
    {
        var options = new JlcmOptions { WeightBits = 2, Groups = 2, Iterations = 10, CalibrationSamples = 32 };
        string work = Path.Combine(_dir, "work");
        var (first, _) = Run(options, work);
        // Drop the last layer's files: as if the run was killed before it finished.
        foreach (var f in Directory.EnumerateFiles(Path.Combine(work, "layers"), "layer-0002.*")) File.Delete(f);
        var (second, report) = Run(options, work);
        using (first)
        using (second)
        {
            Assert.Equal(2, report.Metrics.Single(m => m.Name == "resumedLayers").Value);
            var a = first.NamedTensors();
            var b = second.NamedTensors();
            Assert.Equal(a.Select(t => t.Name), b.Select(t => t.Name));
            for (int i = 0; i < a.Count; i++) Tolerances.AssertIdentical(a[i].Tensor, b[i].Tensor, a[i].Name);
        }
        // Other options: stale state is discarded, nothing is resumed.
        var (third, report3) = Run(options with { WeightBits = 3 }, work);
        using (third) Assert.Equal(0, report3.Metrics.Single(m => m.Name == "resumedLayers").Value);
    }

    [Fact]
    public void RtnAndKmeansBaselinesRunAtTheSameBits()
    {
        var (rtn, rtnReport) = Run(new JlcmOptions { WeightBits = 2, Method = JlcmMethod.Rtn, CalibrationSamples = 32 });
        using (rtn) Assert.All(rtn.Layers(), l => Assert.Equal(QuantizedKinds.Linear.Id, Assert.IsType<QuantizedLayer>(l.Module).Kind));
        var (km, kmReport) = Run(new JlcmOptions { WeightBits = 2, Method = JlcmMethod.Kmeans, CalibrationSamples = 32 });
        using (km) Assert.All(km.Layers(), l => Assert.Equal(CodebookKinds.Linear.Id, Assert.IsType<CodebookLayer>(l.Module).Kind));
        double Bpw(ReportBuilder r) => r.Metrics.Single(m => m.Name == "bitsPerWeight").Value;
        output.WriteLine($"bits/weight: rtn {Bpw(rtnReport):F3}, kmeans {Bpw(kmReport):F3}");
        Assert.InRange(Bpw(rtnReport), 2, 3.5);
        Assert.InRange(Bpw(kmReport), 2, 3.5);
    }
}
