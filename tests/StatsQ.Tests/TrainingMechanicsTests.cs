using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Plugins.StatsQ.Algorithm.Training;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace StatsQ.Tests;

public sealed class TrainingMechanicsTests
{
    [Fact]
    public void OscillationTrackerCountsReversalsOfAHandMadeSequence()
    {
        using var tracker = new OscillationTracker();
        var perStep = new List<long>();
        foreach (int code in new[] { 0, 1, 0, 1, 1, 0 })
        {
            tracker.Update(tensor(new long[] { code }));
            perStep.Add(tracker.LastStepEvents);
        }
        // Steps (after the first) 1..5: changes −1, +1, −1, 0, +1 → events at steps 2, 3 and 5.
        Assert.Equal(new long[] { 0, 0, 1, 1, 0, 1 }, perStep.ToArray());
        Assert.Equal(3, tracker.EventCounts.item<long>());
        // EMA closed form with m = 0.01 and events at steps 2, 3, 5 of 5: f = m(1−m)^3 + m(1−m)^2 + m.
        double m = OscillationTracker.Momentum;
        Assert.Equal(m * Math.Pow(1 - m, 3) + m * Math.Pow(1 - m, 2) + m, tracker.Frequencies.item<double>(), 12);
        Assert.Equal(1.0, tracker.FractionReversedWithin(1));
        Assert.Equal(3 * 1000.0 / 5, tracker.EventsPerThousandSteps, 9);
    }

    [Fact]
    public void CgaMaskFractionIsTwiceTheBoundaryOnUniformFractions()
    {
        // Pre-rounding values with uniform fractional parts over many thresholds (edge effects negligible):
        // the share within BR of a threshold is 2·BR.
        var v = rand(200_000, generator: new Generator(3)).mul(100.0).sub(50.0);
        foreach (double br in new[] { 0.005, 0.01 })
        {
            using var freeze = ConfidenceGuidedAnnealing.FreezeMask(v, br);
            double unfrozen = 1 - freeze.to_type(ScalarType.Float64).mean().item<double>();
            Assert.InRange(unfrozen, 2 * br * 0.8, 2 * br * 1.2);
        }
    }

    [Fact]
    public void FrozenWeightsStayBitIdenticalThroughAnAdamWStepWithWeightDecay()
    {
        var layer = nn.Linear(64, 32);
        // A small learning rate keeps unfrozen weights inside the band between steps (a large one would empty the band
        // in a step or two: CGA's intended "everything ends frozen" dynamic, which another test covers).
        var opt = optim.AdamW(layer.parameters(), 1e-4, weight_decay: 0.05);
        for (int step = 0; step < 3; step++)
        {
            opt.zero_grad();
            var x = TinyModels.Inputs([16, 64], seed: 10 + step);
            using var loss = nn.functional.linear(x, StatsQuantizer.Quantize(layer.weight!, 2), layer.bias).square().mean();
            loss.backward();
            using var v = StatsQuantizer.PreRounding(layer.weight!, 2);
            using var freeze = ConfidenceGuidedAnnealing.FreezeMask(v, 0.05);
            var before = layer.weight!.detach().clone();
            var saved = ConfidenceGuidedAnnealing.BeforeStep(layer.weight!, freeze);
            opt.step();
            ConfidenceGuidedAnnealing.AfterStep(layer.weight!, freeze, saved);
            var w = layer.weight!.detach();
            Assert.True(w.masked_select(freeze).equal(before.masked_select(freeze)).all().item<bool>(), $"step {step}: a frozen entry moved");
            long unmoved = w.masked_select(freeze.logical_not()).eq(before.masked_select(freeze.logical_not())).sum().item<long>();
            Assert.True(unmoved == 0, $"step {step}: {unmoved} unfrozen entries did not move");
            Assert.True(freeze.logical_not().any().item<bool>(), $"step {step}: nothing unfrozen");
        }
    }

    [Fact]
    public void CgaMaskIsRecomputedFromTheCurrentWeights()
    {
        var w = TinyModels.Inputs([8, 128], seed: 12);
        using var v1 = StatsQuantizer.PreRounding(w, 2);
        using var m1 = ConfidenceGuidedAnnealing.FreezeMask(v1, 0.05);
        using var w2 = w.add(0.01);
        using var v2 = StatsQuantizer.PreRounding(w2, 2);
        using var m2 = ConfidenceGuidedAnnealing.FreezeMask(v2, 0.05);
        Assert.False(m1.equal(m2).all().item<bool>());
    }
}
