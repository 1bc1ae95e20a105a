using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Layers;
using Compressor.Layers.Packing;
using Compressor.Layers.Quantized;
using Compressor.Plugins.Gptq;
using Compressor.Plugins.Gptq.Algorithm;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace GPTQ.Tests;

/// <summary>GPTQ's and AWQ's defining properties, each against an independent computation (README sections named).</summary>
public sealed class GptqAlgorithmTests
{
    private static Tensor Correlated(long rows, long cols, int seed)
    {
        var g = new Generator((ulong)seed);
        var mix = randn([cols, cols], generator: g).div(Math.Sqrt(cols)).add(eye(cols));
        return randn([rows, cols], generator: g).matmul(mix);
    }

    private static Tensor Hessian(Tensor x) => x.t().matmul(x).mul(2.0 / x.shape[0]);

    private static double OutputError(Tensor q, Tensor w, Tensor h)
    {
        using var scope = NewDisposeScope();
        var e = q.sub(w);
        return e.matmul(h).mul(e).sum().item<float>();
    }

    private static Tensor Values(LayerCodes c, int groupSize) => GroupQuantization.Dequantize(c.Codes, c.Scales, c.ZeroPoints, groupSize);

    /// <summary>"GPTQ, step by step": with a diagonal H, U is diagonal, no error reaches another column, and GPTQ is
    /// round-to-nearest on the same grid, code for code.</summary>
    [Fact]
    public void DiagonalHessianGivesNearestRounding()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var w = randn([16, 96], generator: g).mul(0.1);
        var h = diag(rand([96], generator: g).add(0.5));
        var settings = new GptqSettings(4, 32, false, false, 0.01, 1, 128);
        using var gptq = GptqSolver.Solve(w, h, settings, "test", _ => { });
        using var nearest = NearestRounding.Quantize(w, settings);
        Assert.True(gptq.Codes.eq(nearest.Codes).all().item<bool>(), "codes differ from round-to-nearest");
        Assert.True(gptq.ZeroPoints!.eq(nearest.ZeroPoints!).all().item<bool>(), "zero points differ");
    }

    /// <summary>"GPTQ, step by step": on correlated inputs the error feedback lowers the layer's output error
    /// tr(E·H·Eᵀ) well below round-to-nearest's on the same grid (the paper's point); 0.8× is far from the noise.</summary>
    [Theory]
    [InlineData(4, 32, false, false)]
    [InlineData(3, 0, true, false)]
    [InlineData(3, 16, false, true)]
    public void ErrorFeedbackBeatsNearestRoundingOnCorrelatedInputs(int bits, int group, bool symmetric, bool actOrder)
    {
        using var scope = NewDisposeScope();
        var w = randn([24, 128], generator: new Generator(5)).mul(0.05);
        var h = Hessian(Correlated(1024, 128, 6));
        var settings = new GptqSettings(bits, group, symmetric, actOrder, 0.01, 1, 32);
        using var gptq = GptqSolver.Solve(w, h, settings, "test", _ => { });
        using var nearest = NearestRounding.Quantize(w, settings);
        double ours = OutputError(Values(gptq, group), w, h), rtn = OutputError(Values(nearest, group), w, h);
        Assert.True(ours < 0.8 * rtn, $"GPTQ output error {ours:G4} vs nearest {rtn:G4}");
    }

    /// <summary>"Act-order and static groups": every group's grid comes from the original weights before any update, so
    /// the scales and zero points are round-to-nearest's exactly, and the groups stay contiguous in the stored layout.</summary>
    [Fact]
    public void ActOrderUsesStaticGroupsFromTheOriginalWeights()
    {
        using var scope = NewDisposeScope();
        var w = randn([12, 64], generator: new Generator(8)).mul(0.05);
        var h = Hessian(Correlated(512, 64, 9));
        var settings = new GptqSettings(3, 16, false, true, 0.01, 1, 128);
        using var gptq = GptqSolver.Solve(w, h, settings, "test", _ => { });
        using var nearest = NearestRounding.Quantize(w, settings);
        Assert.True(gptq.Scales.eq(nearest.Scales).all().item<bool>(), "static group scales differ from the original weights' grids");
        Assert.True(gptq.ZeroPoints!.eq(nearest.ZeroPoints!).all().item<bool>(), "static group zero points differ");
        Assert.False(gptq.Codes.eq(nearest.Codes).all().item<bool>(), "act-order changed no code: the feedback did nothing");
    }

    /// <summary>"GPTQ, step by step": an input that never fires (Hᵢᵢ = 0) has its weights zeroed, so they quantize to exactly 0.</summary>
    [Fact]
    public void DeadInputsQuantizeToZero()
    {
        using var scope = NewDisposeScope();
        var x = Correlated(256, 32, 10);
        x.index_fill_(1, tensor(new long[] { 4, 17 }), 0);
        var w = randn([8, 32], generator: new Generator(11)).mul(0.1);
        foreach (bool symmetric in new[] { true, false })
        {
            var settings = new GptqSettings(4, 0, symmetric, false, 0.01, 1, 128);
            using var codes = GptqSolver.Solve(w, Hessian(x), settings, "test", _ => { });
            var values = Values(codes, 0);
            Assert.Equal(0f, values.index_select(1, tensor(new long[] { 4, 17 })).abs().max().item<float>());
        }
    }

    /// <summary>A Hessian whose 2×2 blocks [[1, 1.05], [1.05, 1]] have eigenvalue −0.05 fails the factorisation at 1 %
    /// dampening and passes at 10 %: one warning naming the layer and both dampenings, and the result says 0.1.</summary>
    [Fact]
    public void DampeningRisesWithAWarningUntilTheFactorisationSucceeds()
    {
        using var scope = NewDisposeScope();
        var block = tensor(new float[] { 1, 1.05f, 1.05f, 1 }).reshape(2, 2);
        var h = block_diag(Enumerable.Repeat(block, 8).ToArray());
        var w = randn([4, 16], generator: new Generator(12)).mul(0.1);
        var warnings = new List<string>();
        using var codes = GptqSolver.Solve(w, h, new GptqSettings(4, 0, false, false, 0.01, 1, 128), "blocks.3.fc", warnings.Add);
        Assert.Equal(0.1, codes.DampUsed, 6);
        var warning = Assert.Single(warnings);
        Assert.Contains("blocks.3.fc", warning);
        Assert.Contains("0.01", warning);
        Assert.Contains("0.1", warning);
    }

    /// <summary>Past --max-damp the layer fails with one line naming it and the dampening (the host's exit 5).</summary>
    [Fact]
    public void DampeningStopsAtTheCapWithOneLine()
    {
        using var scope = NewDisposeScope();
        var block = tensor(new float[] { 1, 3, 3, 1 }).reshape(2, 2);   // eigenvalue −2: no dampening up to 1 (+1) helps
        var h = block_diag(Enumerable.Repeat(block, 4).ToArray());
        var w = randn([4, 8], generator: new Generator(13));
        var e = Assert.Throws<CompressException>(() => GptqSolver.Solve(w, h, new GptqSettings(4, 0, false, false, 0.01, 1, 128), "enc.fc2", _ => { }));
        Assert.Equal(ErrorKind.PluginFailed, e.Kind);
        Assert.Contains("enc.fc2", e.Message);
        Assert.Contains("--max-damp", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static (CompressibleModel Model, ReportBuilder Report) RunPlugin(GptqOptions options, Tensor calibration, Func<CompressibleModel>? create = null)
    {
        var model = create?.Invoke() ?? TinyModels.Mlp(seed: 7, kinds: new GptqPlugin().LayerKinds);
        var report = new ReportBuilder();
        var work = Directory.CreateTempSubdirectory("gptq-test-").FullName;
        try
        {
            var data = new PluginData(null, new TensorDataSet("calibration", calibration, null), null);
            new GptqPlugin().Run(new PluginContext { Model = model, Data = data, Resume = new FolderResumeStore(work, new LayerKindSet(BuiltInLayerKinds.All).With(new GptqPlugin().LayerKinds)), Report = report, Seed = 0 }, options);
            return (model, report);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>A NaN in the calibration data stops the run with one line naming the first layer that sees it (exit 5),
    /// before any layer is replaced.</summary>
    [Fact]
    public void NonFiniteActivationsStopTheRunNamingTheLayer()
    {
        var x = TinyModels.Inputs([32, 64], seed: 14);
        x[3, 5] = tensor(float.NaN);
        var e = Assert.Throws<CompressException>(() => RunPlugin(new GptqOptions { CalibrationSamples = 32 }, x));
        Assert.Equal(ErrorKind.PluginFailed, e.Kind);
        Assert.Contains("'layers.0'", e.Message);
        Assert.Contains("non-finite", e.Message);
    }

    /// <summary>"AWQ: folding": fc2 reads ReLU(fc1(x)), and ReLU(x/s) = ReLU(x)/s for s &gt; 0, so fc1's rows absorb the
    /// scale; the first layer reads the model input, which nothing absorbs.</summary>
    [Fact]
    public void ScalesFoldIntoTheLayerBeforeAReluAndNowhereElse()
    {
        using var model = TinyModels.Mlp(seed: 7);
        var x = TinyModels.Inputs([8, 64], seed: 15);
        Tensor Probe() => model.Forward(x).flatten();
        var before = Probe().detach().clone();
        Assert.Null(ScaleFolding.Find(model, ["layers.0"], 64, Probe, seed: 1));
        var producer = ScaleFolding.Find(model, ["layers.2"], 96, Probe, seed: 1);
        Assert.NotNull(producer);
        Assert.Contains("layers.0", producer!.Description);
        Assert.True(Probe().sub(before).abs().max().item<float>() == 0, "the search left the model changed");
        var s = rand([96], generator: new Generator(2)).mul(3).add(0.2);
        ScaleFolding.Apply(producer, [ScaleFolding.WeightOf(model.GetLayer("layers.2"))], s);
        Tolerances.AssertClose(before, Probe(), rtol: 1e-5, atol: 1e-6, "outputs after folding a scale");
    }

    /// <summary>"AWQ": when a few input channels of a layer carry large activations (fc1's rows ×20, fc2's columns ÷20 —
    /// the same function), AWQ's scaling and clipping cut fc2's 3-bit output error against round-to-nearest on the
    /// same grid, and the report counts the scaled layer.</summary>
    [Fact]
    public void AwqCutsTheOutputErrorOfALayerWithOutlierChannels()
    {
        var calibration = TinyModels.Inputs([64, 64], seed: 16);
        CompressibleModel Outliers()
        {
            var m = TinyModels.Mlp(seed: 7, kinds: new GptqPlugin().LayerKinds);
            using var noGrad = no_grad();
            var channels = tensor(new long[] { 1, 7, 30, 61 });
            var w1 = ScaleFolding.WeightOf(m.GetLayer("layers.0"));
            var b1 = ((TorchSharp.Modules.Linear)m.GetLayer("layers.0")).bias!;
            var w2 = ScaleFolding.WeightOf(m.GetLayer("layers.2"));
            w1.index_copy_(0, channels, w1.index_select(0, channels).mul(20));
            b1.index_copy_(0, channels, b1.index_select(0, channels).mul(20));
            w2.index_copy_(1, channels, w2.index_select(1, channels).div(20));
            return m;
        }
        using var reference = Outliers();
        Tensor expected;
        using (no_grad()) expected = reference.Forward(calibration).detach().clone();
        double Error(GptqOptions o)
        {
            var (model, report) = RunPlugin(o with { WeightBits = 3, GroupSize = 0, Rounding = Rounding.Nearest, Include = ["layers.2"], CalibrationSamples = 64 }, calibration, Outliers);
            using (model)
            using (no_grad())
            {
                if (o.Awq) Assert.Equal(1, report.Metrics.Single(m => m.Name == "awqScaledLayers").Value);
                return model.Forward(calibration).sub(expected).square().mean().item<float>();
            }
        }
        double plain = Error(new GptqOptions()), awq = Error(new GptqOptions { Awq = true });
        Assert.True(awq < 0.7 * plain, $"AWQ output error {awq:G4} vs round-to-nearest {plain:G4}");
    }

    /// <summary>The plugin writes the layers library's quantized layers at the asked width: 3-bit codes packed densely
    /// (3 bits per weight plus the scales and zero points), so bits/weight in the report is below 4.</summary>
    [Fact]
    public void ThreeBitLayersArePackedDensely()
    {
        var (model, report) = RunPlugin(new GptqOptions { WeightBits = 3, GroupSize = 32, CalibrationSamples = 32 }, TinyModels.Inputs([32, 64], seed: 17));
        using (model)
        {
            foreach (var (name, layer) in model.CompressedLayers())
            {
                var q = Assert.IsType<QuantizedLayer>(layer);
                Assert.Equal(3, q.Bits);
                Assert.Equal(IntPacking.PackedBytes(q.Rows * q.Columns, 3), q.PackedCodes.numel());
            }
            double bpw = report.Metrics.Single(m => m.Name == "quantizedBitsPerWeight").Value;
            Assert.InRange(bpw, 3.0, 3.0 + 32.0 / 32 + 3.0 / 32 + 0.05);
        }
    }
}
