using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm.Training;
using Compressor.Sdk.Models;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace StatsQ.Tests;

/// <summary>The logit error of the QKR rewrite before training (quantizers off), on the fixture's trained ViT whose
/// qkv linears have trained (non-zero) biases.</summary>
[Collection(TrainedVitCollection.Name)]
public sealed class RewriteProbeTests(TrainedVitFixture fx)
{
    /// <summary>fp32 forward of the same function computed in another order (QKR's W_qᵀW_k product).</summary>
    private const double ExactRewrite = 1e-5;

    private (double Error, double Agreement) Probe(bool keepQueryBias, bool zeroQkBias)
    {
        using var model = fx.Load();
        if (zeroQkBias)
            using (no_grad())
                foreach (var (name, p) in model.Module.named_parameters())
                    if (name.EndsWith("qkv.bias", StringComparison.Ordinal)) p.narrow(0, 0, 2 * (p.shape[0] / 3)).zero_();
        var evaluation = fx.Data.Evaluation ?? fx.Data.Train!;
        using var probe = RewriteProbe.Capture(model, evaluation, 64, CPU);
        ModelQuantization.Apply(model, new StatsQOptions { WeightBits = 2, ActivationBits = 2, Qkr = true, KeepQueryBias = keepQueryBias });
        return probe.Compare(model);
    }

    [Fact]
    public void DroppingTrainedQueryKeyBiasesMovesTheLogitsAndKeepingTheQueryTermDoesNot()
    {
        var dropped = Probe(keepQueryBias: false, zeroQkBias: false);
        var kept = Probe(keepQueryBias: true, zeroQkBias: false);
        Assert.True(dropped.Error > 100 * ExactRewrite, $"dropping trained q/k biases should move the logits, got {dropped.Error:G3}");
        Assert.True(kept.Error < ExactRewrite, $"keeping b_qᵀW_k x_j should make the rewrite exact, got {kept.Error:G3}");
        Assert.Equal(1.0, kept.Agreement);
    }

    [Fact]
    public void WithZeroQueryKeyBiasesTheRewriteIsExactAndTheQuantizersComeBackOn()
    {
        var (error, agreement) = Probe(keepQueryBias: false, zeroQkBias: true);
        Assert.True(error < ExactRewrite, $"with zero q/k biases QKR is the same function, got {error:G3}");
        Assert.Equal(1.0, agreement);
    }

    [Fact]
    public void AfterTheProbeEveryQuantizerIsOnAgain()
    {
        using var model = fx.Load();
        var evaluation = fx.Data.Evaluation ?? fx.Data.Train!;
        using var probe = RewriteProbe.Capture(model, evaluation, 64, CPU);
        ModelQuantization.Apply(model, new StatsQOptions { WeightBits = 2, ActivationBits = 2, Qkr = true });
        probe.Compare(model);
        using var batch = evaluation.Batches(64).First();
        model.Module.eval();
        using var noGrad = no_grad();
        using var quantized = model.Forward(batch.Input);
        probe.Compare(model);
        using var again = model.Forward(batch.Input);
        Assert.True(quantized.sub(again).abs().max().item<float>() < 1e-6, "the probe must leave the model as it found it");
        using var original = fx.Load();
        original.Module.eval();
        using var fp = original.Forward(batch.Input);
        Assert.True(again.sub(fp).abs().max().item<float>() > 1e-3, "W2A2 quantizers should be on after the probe");
        foreach (var (_, m) in model.NamedModules())
            if (m is Compressor.Plugins.StatsQ.Algorithm.Qat.QkrAttention q) Assert.True(q.QuantizationEnabled);
    }
}
