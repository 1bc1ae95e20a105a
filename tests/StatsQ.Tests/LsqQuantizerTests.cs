using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace StatsQ.Tests;

public sealed class LsqQuantizerTests
{
    [Fact]
    public void InitialisesFromTwoMeanAbsOverRootQp()
    {
        var w = TinyModels.Inputs([6, 32], seed: 1);
        var q = new LsqQuantizer(2, signed: true, LsqGranularity.PerRow);
        q.Initialize(w);
        var expected = w.abs().mean([1L], keepdim: true).mul(2 / Math.Sqrt(1));
        Tolerances.AssertClose(expected, q.Scale!, rtol: 1e-6, atol: 0, "s0 = 2·mean|w|/√Qp");
        var a = new LsqQuantizer(4, signed: false, LsqGranularity.PerTensor);
        var x = TinyModels.Inputs([10, 5, 8], seed: 2).abs();
        a.Initialize(x);
        Assert.Equal(4 * x.mean().item<float>() / Math.Sqrt(15), a.Scale!.item<float>(), 5);
    }

    [Fact]
    public void GradientsFollowTheLsqFormulas()
    {
        var q = new LsqQuantizer(2, signed: true, LsqGranularity.PerTensor);
        var x = tensor(new[] { 0.3f, -0.9f, 5.0f, -7.0f, 1.26f }).requires_grad_(true);
        q.Initialize(tensor(new[] { 0.5f }));   // s = 2·0.5/√1 = 1.0
        using (no_grad()) q.Scale!.fill_(1.0f);
        var y = q.forward(x);
        Assert.Equal(new[] { 0f, -1f, 1f, -2f, 1f }, y.data<float>().ToArray());
        y.sum().backward();
        // dx̂/dx: 1 inside [Qn, Qp] = [−2, 1], 0 outside (5.0 and −7.0 are clipped).
        Assert.Equal(new[] { 1f, 1f, 0f, 0f, 0f }, x.grad!.data<float>().ToArray());
        // dx̂/ds = Σ (round(x/s) − x/s inside; Qn or Qp outside) · g, with g = 1/√(Qp·N) = 1/√5.
        double inside = (0 - 0.3) + (-1 - -0.9), outside = 1 + -2 + 1; // 1.26 is clipped to Qp = 1
        Assert.Equal((inside + outside) / Math.Sqrt(5), q.Scale!.grad!.item<float>(), 5);
    }

    [Fact]
    public void PerTokenScalesBroadcastOverFeatures()
    {
        var q = new LsqQuantizer(4, signed: true, LsqGranularity.PerToken);
        var x = TinyModels.Inputs([3, 7, 16], seed: 3);
        using var y = q.forward(x);
        Assert.Equal(new long[] { 7, 1 }, q.Scale!.shape);
        Assert.Equal(48, q.SharedCount(x));
        Assert.Equal(x.shape, y.shape);
        var h = new LsqQuantizer(4, signed: true, LsqGranularity.PerHeadToken);
        using var yh = h.forward(TinyModels.Inputs([2, 3, 7, 4], seed: 4));
        Assert.Equal(new long[] { 3, 7, 1 }, h.Scale!.shape);
    }
}
