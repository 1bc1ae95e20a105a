using Compressor.Layers.Lowering;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The shipped form of an activation quantizer: its learned LSQ scale, frozen (clamped to ≥ 1e−5 as in the
/// forward), and — for quantizers between OFQ's learnable shifts — the shift before and after. Forward:
/// x (+ shift_before) → <see cref="ActivationQdq.Apply"/> (the same computation as the ONNX QuantizeLinear /
/// DequantizeLinear pair) → (+ shift_after). Buffers <c>scale</c> (the LSQ scale's broadcast shape: [] per tensor,
/// [N, 1] per token, [C] per channel, [H, N, 1] per head and token), <c>shift_before</c>, <c>shift_after</c>.</summary>
public sealed class FrozenActivationQuantizer : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates an empty quantizer (unit scale, zero shifts) of the given shapes on <paramref name="device"/> (null: the default device).</summary>
    public FrozenActivationQuantizer(long[] scaleShape, int bits, bool signed, long shiftFeatures, Device? device = null) : base("act_q")
    {
        if (bits < 2 || bits > 8) throw new ArgumentOutOfRangeException(nameof(bits), "activation bits must be 2..8");
        Bits = bits;
        Signed = signed;
        ScaleShape = scaleShape;
        ShiftFeatures = shiftFeatures;
        (Qn, Qp) = signed ? (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) : (0, (1 << bits) - 1);
        register_buffer("scale", ones(scaleShape, device: device).DetachFromDisposeScope());
        if (shiftFeatures > 0)
        {
            register_buffer("shift_before", zeros(shiftFeatures, device: device).DetachFromDisposeScope());
            register_buffer("shift_after", zeros(shiftFeatures, device: device).DetachFromDisposeScope());
        }
    }

    /// <summary>Bits of the codes.</summary>
    public int Bits { get; }

    /// <summary>Signed (int) or unsigned (after GELU and softmax) codes.</summary>
    public bool Signed { get; }

    /// <summary>Lowest code.</summary>
    public int Qn { get; }

    /// <summary>Highest code.</summary>
    public int Qp { get; }

    /// <summary>Shape of the scale.</summary>
    public long[] ScaleShape { get; }

    /// <summary>Length of the two shifts (0: none).</summary>
    public long ShiftFeatures { get; }

    /// <summary>The frozen scale.</summary>
    public Tensor Scale => get_buffer("scale")!;

    /// <summary>The shift added before quantizing, or null.</summary>
    public Tensor? ShiftBefore => ShiftFeatures > 0 ? get_buffer("shift_before") : null;

    /// <summary>The shift added after quantizing, or null.</summary>
    public Tensor? ShiftAfter => ShiftFeatures > 0 ? get_buffer("shift_after") : null;

    /// <summary>Bits of its tensors (scale and shifts, float32).</summary>
    public long StorageBits => (Scale.numel() + 2 * ShiftFeatures) * 32;



    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = ShiftBefore is { } b ? x.add(b) : x;
        var y = ActivationQdq.Apply(h, Scale, Qn, Qp);
        if (ShiftAfter is { } a) y = y.add(a);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The config it is rebuilt from.</summary>
    public ActivationQuantizerConfig Config => new(Bits, Signed, ScaleShape, ShiftFeatures);

    /// <summary>An empty quantizer (unit scale, zero shifts) of <paramref name="config"/>.</summary>
    public static FrozenActivationQuantizer FromConfig(ActivationQuantizerConfig config) =>
        new(config.ScaleShape, config.Bits, config.Signed, config.Shifts);
}
