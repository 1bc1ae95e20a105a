using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Quantizers;

/// <summary>An LSQ activation quantizer between two learnable per-feature shifts (OFQ: <c>move_b4</c> → LSQ →
/// <c>move_aft</c>), children named <c>move_b4</c>, <c>quant</c>, <c>move_aft</c>.</summary>
public sealed class ActivationQuantizer : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the quantizer for activations whose last axis has <paramref name="features"/> entries.</summary>
    public ActivationQuantizer(long features, int bits, bool signed, LsqGranularity granularity, Device? device = null) : base("act")
    {
        register_module("move_b4", new LearnableBias(features, device));
        register_module("quant", new LsqQuantizer(bits, signed, granularity));
        register_module("move_aft", new LearnableBias(features, device));
    }

    /// <summary>The LSQ quantizer.</summary>
    public LsqQuantizer Quant => (LsqQuantizer)named_children().First(c => c.name == "quant").module;

    /// <summary>Shift before quantization.</summary>
    public LearnableBias Before => (LearnableBias)named_children().First(c => c.name == "move_b4").module;

    /// <summary>Shift after quantization.</summary>
    public LearnableBias After => (LearnableBias)named_children().First(c => c.name == "move_aft").module;

    /// <summary>When false the module is the identity (used to check the float path).</summary>
    public bool Enabled { get; set; } = true;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!Enabled) return x.alias();
        using var shifted = Before.forward(x);
        using var q = Quant.forward(shifted);
        return After.forward(q);
    }
}
