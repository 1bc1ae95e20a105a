using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm.Training;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace StatsQ.Tests;

/// <summary>The alternating FP/QAT step timing leaves both models as it found them.</summary>
[Collection(TrainedVitCollection.Name)]
public sealed class StepTimingTests(TrainedVitFixture fx)
{
    [Fact]
    public void PairedTimingMeasuresBothAndRestoresAFrozenTeacherWithoutChangingAnyWeight()
    {
        using var teacher = fx.Load();
        using var student = fx.Load();
        teacher.Module.eval();
        foreach (var p in teacher.Module.parameters()) p.requires_grad = false;
        ModelQuantization.Apply(student, new StatsQOptions { WeightBits = 2, ActivationBits = 2 });
        // LSQ scales are created at the first forward; compare every parameter that existed before.
        var before = Named(student, "s.").Concat(Named(teacher, "t.")).ToDictionary(p => p.Name, p => p.Value.detach().clone());

        var (fp, qat) = StepTiming.MeasurePair(teacher, student, fx.Data.Train!, 32, CPU);

        Assert.True(fp > 0 && qat > 0, $"both step times must be measured, got {fp} / {qat}");
        Assert.All(teacher.Module.parameters(), p => Assert.False(p.requires_grad));
        Assert.False(teacher.Module.training);
        var after = Named(student, "s.").Concat(Named(teacher, "t.")).ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, value) in before)
            Assert.True(value.eq(after[name].detach()).all().item<bool>(), $"{name} changed");
    }

    private static IEnumerable<(string Name, Tensor Value)> Named(Compressor.Sdk.Models.CompressibleModel m, string prefix) =>
        m.Module.named_parameters().Select(p => (prefix + p.name, (Tensor)p.parameter));
}
