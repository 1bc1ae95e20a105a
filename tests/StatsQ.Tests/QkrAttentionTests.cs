using Compressor.Plugins.StatsQ.Algorithm.Qat;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Engine.Architectures;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace StatsQ.Tests;

public sealed class QkrAttentionTests
{
    private static (SelfAttention Reference, QkrAttention Qkr) Pair(bool zeroQkBias, bool keepQueryBias)
    {
        manual_seed(4);
        var reference = new SelfAttention(48, 4, qkvBias: true, causal: false, BlockNames.Timm);
        var qkv = (TorchSharp.Modules.Linear)reference.GetChild("qkv");
        var proj = (TorchSharp.Modules.Linear)reference.GetChild("proj");
        using (no_grad())
        {
            qkv.bias!.normal_();
            if (zeroQkBias) qkv.bias![..96].zero_();
        }
        var projCopy = nn.Linear(48, 48);
        using (no_grad()) { projCopy.weight!.copy_(proj.weight!); projCopy.bias!.copy_(proj.bias!); }
        var qkvCopy = nn.Linear(48, 144);
        using (no_grad()) { qkvCopy.weight!.copy_(qkv.weight!); qkvCopy.bias!.copy_(qkv.bias!); }
        var qkr = new QkrAttention(qkvCopy, new QatLinear(projCopy, WeightQuantizerKind.StatsQ, 2,
            new ActivationQuantizer(48, 2, true, LsqGranularity.PerToken)), heads: 4, bits: 2, keepQueryBias) { QuantizationEnabled = false };
        return (reference, qkr);
    }

    [Fact]
    public void WithQuantizersOffAndZeroQkBiasLogitsAndOutputsEqualStandardAttention()
    {
        var (reference, qkr) = Pair(zeroQkBias: true, keepQueryBias: false);
        var x = TinyModels.Inputs([2, 9, 48], seed: 5);
        // X W_qk^h Xᵀ = (X W_q^hᵀ)(X W_k^hᵀ)ᵀ: compare logits computed both ways.
        var qkv = ((TorchSharp.Modules.Linear)reference.GetChild("qkv")).forward(x).reshape(2, 9, 3, 4, 12).permute(2, 0, 3, 1, 4);
        var expected = qkv[0].matmul(qkv[1].transpose(-2, -1)).div(Math.Sqrt(12));
        Tolerances.AssertClose(expected, qkr.Logits(x), rtol: 0, atol: 1e-5, "QKR logits");
        Tolerances.AssertClose(reference.forward(x), qkr.forward(x), rtol: 0, atol: 1e-5, "attention output");
    }

    [Fact]
    public void KeepingTheQueryBiasTermIsExactWhileDroppingItIsNot()
    {
        var (reference, kept) = Pair(zeroQkBias: false, keepQueryBias: true);
        var (_, dropped) = Pair(zeroQkBias: false, keepQueryBias: false);
        var x = TinyModels.Inputs([2, 9, 48], seed: 6);
        using var y = reference.forward(x);
        Tolerances.AssertClose(y, kept.forward(x), rtol: 0, atol: 1e-5, "with b_qᵀ W_k x_j kept");
        Assert.True(y.sub(dropped.forward(x)).abs().max().item<float>() > 1e-4, "dropping the q/k biases should change the output");
    }

    [Fact]
    public void QuantizedQkrRunsAndHasOneStatsQRowPerHeadAndInputDim()
    {
        var (_, qkr) = Pair(zeroQkBias: true, keepQueryBias: false);
        qkr.QuantizationEnabled = true;
        using var y = qkr.forward(TinyModels.Inputs([2, 9, 48], seed: 7));
        Assert.Equal(new long[] { 2, 9, 48 }, y.shape);
        using var codes = qkr.QueryKeyCodes();
        Assert.Equal(new long[] { 4 * 48, 48 }, codes.shape);
        Assert.InRange(codes.min().item<long>(), -2, -2);
        Assert.InRange(codes.max().item<long>(), 1, 1);
    }
}
