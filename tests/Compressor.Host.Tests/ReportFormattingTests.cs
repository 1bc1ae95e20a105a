using Compressor.Engine.Evaluation;
using Compressor.Host.Demo;
using Compressor.Host.Reports;
using Compressor.Host.Results;

namespace Compressor.Host.Tests;

/// <summary>The pieces that make report numbers readable: units, axis ranges near the data, wrapped names, constant
/// series, the speed-up with its spread, the headline's wording and the Pareto front.</summary>
public sealed class ReportFormattingTests
{
    [Theory]
    [InlineData(0.9916, "fraction", "99.16 %")]
    [InlineData(560768, "bytes", "548 KiB")]
    [InlineData(47_000_000, "bytes", "44.8 MiB")]
    [InlineData(812, "bytes", "812 B")]
    [InlineData(2.2695, "MiB", "2.27 MiB")]
    [InlineData(17.26, "ms", "17.3 ms")]
    public void ValuesAreWrittenInReadableUnitsWithoutExponents(double value, string unit, string expected) =>
        Assert.Equal(expected, PlotFormat.Value(value, unit));

    [Fact]
    public void TheAxisStartsNearTheDataNotAtZero()
    {
        // The case: accuracies of 0.964 and 0.992 on an axis from 0 look alike.
        var (lo, hi) = PlotFormat.Near([0.964, 0.992]);
        Assert.InRange(lo, 0.95, 0.964);
        Assert.InRange(hi, 0.992, 1.01);
        Assert.True((0.992 - 0.964) / (hi - lo) > 0.5, "the difference takes more than half of the axis");
        var (zlo, _) = PlotFormat.Near([0.5, 30]);
        Assert.Equal(0, zlo);   // never below zero for positive data
        var (clo, chi) = PlotFormat.Near([5, 5]);
        Assert.True(clo < 5 && chi > 5);
    }

    [Fact]
    public void ByteTicksAreRoundStepsOfOneUnit()
    {
        var (positions, labels) = PlotFormat.ByteTicks(50 * 1024);
        Assert.Equal("0", labels[0]);
        Assert.All(labels.Skip(1), l => Assert.EndsWith(" KiB", l));
        Assert.Equal(["0", "10 KiB", "20 KiB", "30 KiB", "40 KiB", "50 KiB"], labels);
        Assert.Equal(10 * 1024, positions[1]);
    }

    [Fact]
    public void LongLayerNamesAreWrappedAtTheirDots()
    {
        string name = "encoder.layer.11.attention.output.dense";
        string wrapped = PlotFormat.Wrap(name, 20);
        Assert.Equal(name, wrapped.Replace("\n", ""));
        Assert.All(wrapped.Split('\n'), l => Assert.True(l.Length <= 20, l));
        Assert.Equal("short.name", PlotFormat.Wrap("short.name", 20));
        Assert.Equal(["other tensors (norms,", "biases)"], PlotFormat.Wrap("other tensors (norms, biases)", 22).Split('\n'));
    }

    [Fact]
    public void AConstantSeriesIsRecognised()
    {
        Assert.True(PlotFormat.IsConstant([0, 0, 0]));
        Assert.False(PlotFormat.IsConstant([0, 0, 1e-9]));
        var flat = new SeriesResult("cga/unfrozen", "step", "weights", [0, 1, 2], [0, 0, 0]);
        Assert.Equal(0, ReportPlots.Constant(flat));
        Assert.Null(ReportPlots.Constant(flat with { Y = [0, 1, 0] }));
    }

    [Fact]
    public void TheSpeedUpIsTheMedianOfInterleavedRatiosWithItsInterquartileRange()
    {
        // Reference runs take 10 ms; the model's runs give the ratios 2, 2, 2, 1.25, 1.25, 1.25, 1, 0.5 — sorted
        // 0.5 1 1.25 1.25 1.25 2 2 2: median 1.25, 25th percentile (nearest rank 2) 1, 75th (rank 6) 2.
        var model = new LatencyResult(8, 20, 8, 3, 64, 1) { TimesMs = [5, 5, 5, 8, 8, 8, 10, 20] };
        var reference = new LatencyResult(10, 10, 8, 3, 64, 1) { TimesMs = [10, 10, 10, 10, 10, 10, 10, 10] };
        var s = SpeedUp.Of(model, reference)!;
        Assert.Equal(1.25, s.Median);
        Assert.Equal(1, s.P25);
        Assert.Equal(2, s.P75);
        Assert.Equal(8, s.Runs);
        Assert.Equal("1.25× faster (IQR 1.00–2.00×, 8 interleaved runs)", s.Describe());
        Assert.Null(SpeedUp.Of(model, null));
        var slower = new SpeedUp(0.5, 0.4, 0.8, 20);
        Assert.Equal("2.00× slower (IQR 1.25–2.50×, 20 interleaved runs)", slower.Describe());
    }

    [Fact]
    public void TheHeadlineComparesTheOnnxModelsAndNamesTheMetricChange()
    {
        var output = new CheckpointOutput("compressed.safetensors", "x", 100_000, 90_000, 1000, 5,
            new OnnxOutput("model.onnx", null, "y", 116_626, 96_936, 80_000, 79_000, 5, 21, 10));
        var input = new InputModel("/in.safetensors", "z", 549_960, 136_138);
        var runtime = new EvaluationRuntime("1.31.1", "ORT_ENABLE_ALL", 1, 64, 20, 3, "rss-peak-reset");
        var evaluation = new EvaluationReport("model.onnx", "input", "digits/test", 359, runtime, 359, null, new SpeedUp(1.3, 1.2, 1.4, 20), 560_768);
        MetricResult[] metrics = [new("accuracy", 0.9889, 0.9916, "fraction", "digits/test"), new("cosine", 0.99, 1, "", "digits/test")];
        var h = Headline.Of(output, input, metrics, evaluation);
        Assert.Equal(Math.Round(560_768 / 116_626.0, 4), h.SizeRatio);
        Assert.Equal("accuracy", h.Metric);
        Assert.Equal("4.81× smaller (model.onnx 114 KiB vs 548 KiB), accuracy −0.27 pt (99.16 % → 98.89 %), 1.30× faster (IQR 1.20–1.40×, 20 interleaved runs)", h.Text);
        // Without an evaluation: the checkpoint against the input file, and no metric.
        var plain = Headline.Of(output, input, [], null);
        Assert.StartsWith("5.50× smaller (compressed.safetensors 97.7 KiB vs 537 KiB)", plain.Text);
        Assert.Null(plain.Metric);
    }

    [Fact]
    public void TheParetoFrontHoldsExactlyTheUndominatedPoints()
    {
        DemoReportHtml.ParetoPoint[] points =
        [
            new("fp32", 32, 0.9916), new("rtn-w4", 5.0, 0.9944), new("statsq-w2a2", 3.2, 0.9638), new("jlcm-2bit", 2.2, 0.9889),
            new("jlcm-3bit", 4.2, 0.9944), new("lowrank", 12, 0.9916),
        ];
        var front = DemoReportHtml.ParetoFront(points);
        Assert.Equal(["jlcm-2bit", "jlcm-3bit"], front.Select(p => p.Name));
        foreach (var p in points.Except(front))
            Assert.Contains(front, q => q.Bits <= p.Bits && q.Value >= p.Value);
    }

    [Fact]
    public void AModelSlowerAndHungrierThanItsReferenceIsWarnedAbout()
    {
        // The StatsQ W4A4 case: 3.2× slower in every interleaved run, 1.8× the peak memory.
        var runtime = new EvaluationRuntime("1.31.1", "ORT_ENABLE_ALL", 1, 64, 4, 3, "rss-peak-reset");
        var model = new LatencyResult(16, 17, 4, 3, 64, 1) { TimesMs = [16, 16, 16, 16] };
        var reference = new LatencyResult(5, 5, 4, 3, 64, 1) { TimesMs = [5, 5, 5, 5] };
        var result = new OrtEvaluationResult([new Compressor.Sdk.Reports.Metric(EvaluationMetricNames.PeakMemoryMB, 18, "MiB", "d", 10)], "d", 64,
            "1.31.1", "ORT_ENABLE_ALL", model, reference, "rss-peak-reset");
        var evaluation = new EvaluationReport("model.onnx", "input", "d", 64, runtime, 64, null, SpeedUp.Of(model, reference));
        var warnings = Compressor.Host.Pipeline.EvaluationStage.CostWarnings(evaluation, result).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("model.onnx runs 3.20× slower (IQR 3.20–3.20×, 4 interleaved runs) than the input model on ONNX Runtime CPU", warnings[0]);
        Assert.Equal("model.onnx needs 1.8× the peak memory of the input model on ONNX Runtime CPU (18.0 vs 10.0 MiB)", warnings[1]);
        // Faster in half of the runs (the ratios' 75th percentile 1.25), and within 1.2× the memory: nothing to warn about.
        var mixed = new LatencyResult(5, 9, 4, 3, 64, 1) { TimesMs = [4, 4, 6, 9] };
        var calm = new OrtEvaluationResult([new Compressor.Sdk.Reports.Metric(EvaluationMetricNames.PeakMemoryMB, 11, "MiB", "d", 10)], "d", 64,
            "1.31.1", "ORT_ENABLE_ALL", mixed, reference, "rss-peak-reset");
        Assert.Empty(Compressor.Host.Pipeline.EvaluationStage.CostWarnings(evaluation with { SpeedUp = SpeedUp.Of(mixed, reference) }, calm));
    }
}
