using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Engine.Checkpoints;
using static TorchSharp.torch;

namespace StatsQ.Tests;

/// <summary>Our quantizers against the authors' own code: tests/Golden/reference_golden.safetensors holds inputs, outputs
/// and gradients of OFQ's <c>StatsQuantizer</c> and <c>LsqQuantizerWeight</c> run on PyTorch 2.11 (see its README).</summary>
public sealed class ReferenceGoldenTests
{

    /// <summary>Forward values may differ from the reference by float rounding only: OFQ returns Wq − W.detach() + W,
    /// which rounds twice, where ours returns Wq exactly; weights here are ~0.05, so 1e−7 is a few ulp.</summary>
    private const double ForwardAtol = 1e-7;

    /// <summary>The LSQ reference ran on CUDA, whose reductions (the scale initialisation, the scale gradient's row sum over
    /// 48 entries) sum in another order than the CPU: 1e−5 relative covers that and nothing more.</summary>
    private const double CudaReductionRtol = 1e-5;

    /// <summary>The scale gradient sums 48 terms of both signs per row (g·(round(z) − z) inside, Qn/Qp outside), so
    /// cancellation can magnify the CUDA-vs-CPU order difference; 1e−4 relative plus 1e−6 absolute still fails on any
    /// wrong term (each is ≥ ~1e−3 here).</summary>
    private const double ScaleGradRtol = 1e-4, ScaleGradAtol = 1e-6;

    /// <summary>2 ulp of a float32 of magnitude ≤ 4 (upstream gradients are N(0, 1)): 2·2^−23·4 ≈ 9.5e−7.</summary>
    private const double InputGradAtol = 1e-6;

    private static Tensor Golden(string name, string file = "reference_golden.safetensors")
    {
        using var reader = CheckpointFormats.Open(Path.Combine(AppContext.BaseDirectory, "Golden", file));
        return reader.Read(name);
    }

    /// <summary>OFQ keeps the EMA in float32, we keep it in float64: after 300 steps of f ← 0.99·f + 0.01·o the float32
    /// rounding accumulates to well below 1e−6.</summary>
    private const double EmaAtol = 1e-6;

    [Fact]
    public void OscillationTrackerMatchesOfqOnTheSameCodeSequence()
    {
        using var scope = NewDisposeScope();
        const string file = "oscillation_golden.safetensors";
        var codes = Golden("osc.codes", file);
        var stepSums = Golden("osc.step_sums", file).data<float>().ToArray();
        using var tracker = new Compressor.Plugins.StatsQ.Algorithm.Training.OscillationTracker();
        for (int t = 0; t < codes.shape[0]; t++)
        {
            tracker.Update(codes[t]);
            // OFQ's first call only initialises (no event); ours too, with no LastStepEvents yet.
            if (t > 0) Assert.True(tracker.LastStepEvents == (long)stepSums[t], $"step {t}: {tracker.LastStepEvents} events, OFQ {stepSums[t]}");
        }
        Assert.True(tracker.EventCounts.to_type(ScalarType.Float32).eq(Golden("osc.total", file)).all().item<bool>(), "cumulative counts differ from OFQ's");
        Assert.True(tracker.Frequencies.to_type(ScalarType.Float32).allclose(Golden("osc.ema_frequency", file), rtol: 0, atol: EmaAtol), "EMA frequencies differ from OFQ's");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void StatsQMatchesOfqCodesValuesAndGradient(int bits)
    {
        using var scope = NewDisposeScope();
        var w = Golden($"statsq.b{bits}.w").requires_grad_(true);
        var expected = Golden($"statsq.b{bits}.out");
        var y = StatsQuantizer.Quantize(w, bits);
        Assert.True(y.allclose(expected, rtol: 0, atol: ForwardAtol), $"W{bits}: forward differs from OFQ's by more than {ForwardAtol}");
        // The integer codes the reference's values imply equal ours exactly.
        int n = 1 << (bits - 1);
        var s = StatsQuantizer.Scale(w);
        var refCodes = expected.div(s).mul(n).sub(0.5).round().to_type(ScalarType.Int64);
        Assert.True(refCodes.eq(StatsQuantizer.Codes(w, bits)).all().item<bool>(), $"W{bits}: codes differ from OFQ's");
        var up = Golden($"statsq.b{bits}.upstream");
        y.mul(up).sum().backward();
        Assert.True(w.grad!.eq(Golden($"statsq.b{bits}.grad_w")).all().item<bool>(), $"W{bits}: gradient differs from OFQ's identity STE");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    public void LsqMatchesOfqInitialisationValuesAndGradients(int bits)
    {
        using var scope = NewDisposeScope();
        var x = Golden($"lsq.b{bits}.x").requires_grad_(true);
        var q = new LsqQuantizer(bits, signed: true, LsqGranularity.PerRow);
        var y = q.forward(x);
        Assert.True(q.Scale!.detach().flatten().allclose(Golden($"lsq.b{bits}.s_init"), rtol: CudaReductionRtol, atol: 0), $"W{bits}: initial scale differs");
        Assert.True(y.allclose(Golden($"lsq.b{bits}.out"), rtol: CudaReductionRtol, atol: 1e-7), $"W{bits}: forward differs");
        y.mul(Golden($"lsq.b{bits}.upstream")).sum().backward();
        // Which entries pass the gradient (inside the clamp) must match exactly; the passed values are the upstream
        // gradient after autograd's (g·s)/s, which both frameworks round once or twice: equal within 2 ulp of |g| ≤ 4.
        var gx = Golden($"lsq.b{bits}.grad_x");
        Assert.True(x.grad!.eq(0).eq(gx.eq(0)).all().item<bool>(), $"W{bits}: the entries clipped out of the gradient differ from OFQ's");
        Assert.True(x.grad!.allclose(gx, rtol: 0, atol: InputGradAtol), $"W{bits}: input gradient differs from OFQ's");
        Assert.True(q.Scale!.grad!.flatten().allclose(Golden($"lsq.b{bits}.grad_s"), rtol: ScaleGradRtol, atol: ScaleGradAtol), $"W{bits}: scale gradient differs");
    }
}
