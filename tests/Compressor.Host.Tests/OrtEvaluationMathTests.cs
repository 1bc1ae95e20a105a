using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Evaluation;

namespace Compressor.Host.Tests;

/// <summary>The arithmetic of the ORT evaluation against values worked out by hand (double precision, rtol 1e-12).</summary>
public sealed class OrtEvaluationMathTests
{
    private const double Tolerance = 1e-12;

    [Fact]
    public void FidelityMatchesHandComputedCosineAgreementAndKl()
    {
        var fidelity = new FidelityAccumulator();
        // Two rows of two logits: the model vs the reference.
        float[] model = [0f, 0f, 1f, 0f], reference = [1f, 0f, 1f, 0f];
        fidelity.Add(model, reference, [2, 2]);
        // Row 1: cosine of (0,0) vs (1,0) is 0 (a zero vector); arg-max 0 vs 0 agree; p = softmax(1,0), q = (½,½).
        double p0 = Math.Exp(1) / (Math.Exp(1) + 1), p1 = 1 - p0;
        double kl1 = p0 * Math.Log(p0 / 0.5) + p1 * Math.Log(p1 / 0.5);
        // Row 2: identical rows: cosine 1, agree, KL 0.
        Assert.Equal(0.5, fidelity.Cosine, Tolerance);
        Assert.Equal(1.0, fidelity.Agreement, Tolerance);
        Assert.Equal(kl1 / 2, fidelity.KlDivergence, Tolerance);
    }

    [Fact]
    public void PerplexityIsExpOfMeanCrossEntropyAndAccuracyCountsArgMaxes()
    {
        var tokens = new TaskAccumulator(DataKind.Tokens);
        tokens.Add([0f, 0f, 0f, 0f], [1, 2, 2], [0, 1]);   // uniform over 2: cross-entropy ln 2 per token
        Assert.Equal(2.0, tokens.Value, Tolerance);
        var images = new TaskAccumulator(DataKind.Images);
        images.Add([3f, 1f, 0f, 2f, 1f, 5f], [3, 2], [0, 1, 0]);   // arg-maxes 0, 1, 1
        Assert.Equal(2.0 / 3, images.Value, Tolerance);
    }

    [Fact]
    public void PercentilesAreNearestRankWithAMidpointMedian()
    {
        double[] times = [5, 1, 4, 2, 3, 10, 6, 7, 8, 9];
        Assert.Equal(5.5, LatencyBenchmark.Percentile(times, 0.5), Tolerance);
        Assert.Equal(9.0, LatencyBenchmark.Percentile(times, 0.9), Tolerance);
        Assert.Equal(2.0, LatencyBenchmark.Percentile([3, 1, 2], 0.5), Tolerance);
    }
}
