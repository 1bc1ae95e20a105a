using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Qat;

/// <summary>A linear layer during quantization-aware training: the latent float weight stays in the child
/// <c>linear</c> (trainable), the forward uses its quantized value (StatsQ or LSQ per row), and the input passes an
/// optional activation quantizer <c>act</c> first. Replaces an <c>nn.Linear</c> in place.</summary>
public sealed class QatLinear : LayerContainer
{
    private readonly bool _hasAct;

    /// <summary>Wraps <paramref name="linear"/> (taking ownership).</summary>
    public QatLinear(TorchSharp.Modules.Linear linear, WeightQuantizerKind kind, int weightBits, ActivationQuantizer? act) : base("qat_linear")
    {
        Kind = kind;
        WeightBits = weightBits;
        register_module("linear", linear);
        if (kind == WeightQuantizerKind.Lsq) register_module("wq", new LsqQuantizer(weightBits, signed: true, LsqGranularity.PerRow));
        _hasAct = act is not null;
        if (act is not null) register_module("act", act);
    }

    /// <summary>The weight quantizer kind.</summary>
    public WeightQuantizerKind Kind { get; }

    /// <summary>Weight bits.</summary>
    public int WeightBits { get; }

    /// <summary>The latent linear layer.</summary>
    public TorchSharp.Modules.Linear Linear => (TorchSharp.Modules.Linear)GetChild("linear");

    /// <summary>The LSQ weight quantizer (LSQ kind only).</summary>
    public LsqQuantizer? WeightLsq => Kind == WeightQuantizerKind.Lsq ? (LsqQuantizer)GetChild("wq") : null;

    /// <summary>The input quantizer, or null.</summary>
    public ActivationQuantizer? Activation => _hasAct ? (ActivationQuantizer)GetChild("act") : null;

    /// <summary>When false the weight is used unquantized.</summary>
    public bool WeightQuantization { get; set; } = true;

    /// <summary>The quantized weight (with its straight-through gradient).</summary>
    public Tensor QuantizedWeight()
    {
        var w = Linear.weight!;
        if (!WeightQuantization) return w.alias();
        return Kind == WeightQuantizerKind.StatsQ ? StatsQuantizer.Quantize(w, WeightBits) : WeightLsq!.forward(w);
    }

    /// <summary>Integer codes of the current weight (StatsQ: k ∈ {−n..n−1}; LSQ: clamp(round(W/s))).</summary>
    public Tensor WeightCodes() => Kind == WeightQuantizerKind.StatsQ
        ? StatsQuantizer.Codes(Linear.weight!, WeightBits)
        : WeightLsq!.Codes(Linear.weight!);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = Activation is { } a ? a.forward(x) : x;
        var w = QuantizedWeight();
        return nn.functional.linear(input, w, Linear.bias).MoveToOuterDisposeScope();
    }
}
