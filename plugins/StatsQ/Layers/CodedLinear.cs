using Compressor.Layers.Packing;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>A linear map whose weight is integer codes k [out, in] with one step a per output row, and an optional
/// input quantizer. Two grids: the StatsQ zero-less grid W = a·k + a/2 (a = s/n, k ∈ {−n, …, n−1}, so W = s·(2k+1)/2n
/// exactly as in the paper), and the symmetric LSQ grid W = a·k. The forward is written the way the ONNX lowering
/// computes it, so that both round alike: y = x·(a·k)ᵀ [+ (Σ_j x_j)·(a/2)] [+ b] — the half step folded into the
/// row sums of the input, which keeps DequantizeLinear → MatMul intact. Codes are stored packed (two's complement,
/// ONNX order) in the smallest container of 2, 4 or 8 bits that holds them (3-bit codes take 4-bit slots).
/// Buffers <c>qweight</c>, <c>step</c> [out], <c>bias</c> [out]; child <c>input</c> when the input is quantized.</summary>
public class CodedLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates an empty map (zero codes, unit steps) on <paramref name="device"/> (null: the default device).</summary>
    public CodedLinear(long inFeatures, long outFeatures, int bits, bool zeroLess, bool hasBias, FrozenActivationQuantizer? input, string name = "coded_linear", Device? device = null)
        : base(name)
    {
        if (bits < 2 || bits > 8) throw new ArgumentOutOfRangeException(nameof(bits), "weight bits must be 2..8");
        InFeatures = inFeatures; OutFeatures = outFeatures; Bits = bits; ZeroLess = zeroLess;
        register_buffer("qweight", zeros(IntPacking.PackedBytes(inFeatures * outFeatures, ContainerBits(bits)), ScalarType.Byte, device: device).DetachFromDisposeScope());
        register_buffer("step", ones(outFeatures, device: device).DetachFromDisposeScope());
        if (hasBias) register_buffer("bias", zeros(outFeatures, device: device).DetachFromDisposeScope());
        if (input is not null) register_module("input", input);
    }

    /// <summary>The packing width of <paramref name="bits"/>-bit codes: 2, 4 or 8.</summary>
    public static int ContainerBits(int bits) => bits <= 2 ? 2 : bits <= 4 ? 4 : 8;

    /// <summary>Input features.</summary>
    public long InFeatures { get; }

    /// <summary>Output features.</summary>
    public long OutFeatures { get; }

    /// <summary>Bits of the codes.</summary>
    public int Bits { get; }

    /// <summary>The StatsQ zero-less grid (true) or the symmetric grid with a zero level (LSQ).</summary>
    public bool ZeroLess { get; }

    /// <summary>The per-row steps a.</summary>
    public Tensor Step => get_buffer("step")!;

    /// <summary>The bias, or null.</summary>
    public Tensor? Bias => get_buffer("bias");

    /// <summary>The input quantizer, or null.</summary>
    public FrozenActivationQuantizer? Input => named_children().Where(c => c.name == "input").Select(c => (FrozenActivationQuantizer)c.module).FirstOrDefault();

    /// <summary>Packed codes.</summary>
    public Tensor PackedCodes => get_buffer("qweight")!;

    /// <summary>Codes as int32 [out, in].</summary>
    public Tensor Codes() => IntPacking.Unpack(PackedCodes, InFeatures * OutFeatures, ContainerBits(Bits), signed: true).reshape(OutFeatures, InFeatures);

    /// <summary>Fills the codes (in −2^(b−1)..2^(b−1)−1), steps and bias.</summary>
    public void SetState(Tensor codes, Tensor step, Tensor? bias)
    {
        using var noGrad = no_grad();
        if (codes.shape[0] != OutFeatures || codes.shape[1] != InFeatures) throw new ArgumentException("codes have the wrong shape");
        using var scope = NewDisposeScope();
        int n = 1 << (Bits - 1);
        if (codes.min().item<long>() < -n || codes.max().item<long>() > n - 1) throw new ArgumentException($"codes outside the {Bits}-bit range");
        PackedCodes.copy_(IntPacking.Pack(codes, ContainerBits(Bits), signed: true));
        Step.copy_(step.flatten());
        if (bias is not null) Bias!.copy_(bias);
    }

    /// <summary>The dense weight [out, in]: a·k (+ a/2 on the zero-less grid).</summary>
    public Tensor DenseWeight()
    {
        using var scope = NewDisposeScope();
        var w = Codes().to_type(ScalarType.Float32).mul(Step.unsqueeze(1));
        if (ZeroLess) w = w.add(Step.mul(0.5).unsqueeze(1));
        return w.MoveToOuterDisposeScope();
    }

    /// <summary>Bits of what stands for the weight: the codes at their container width, the float32 steps, and the
    /// input quantizer's float32 scale and shifts (which the export writes with the layer).</summary>
    public long StorageBits => InFeatures * OutFeatures * ContainerBits(Bits) + OutFeatures * 32 + (Input?.StorageBits ?? 0);

    /// <summary>The linear map on an (already quantized) input: x·(a·k)ᵀ (+ Σx·a/2) (+ b).</summary>
    public Tensor Project(Tensor x)
    {
        using var scope = NewDisposeScope();
        var w = Codes().to_type(ScalarType.Float32).mul(Step.unsqueeze(1));
        var y = x.matmul(w.t());
        if (ZeroLess) y = y.add(x.sum(-1, keepdim: true).mul(Step.mul(0.5)));
        if (Bias is { } b) y = y.add(b);
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (Input is not { } q) return Project(x);
        using var xq = q.forward(x);
        return Project(xq);
    }

    /// <summary>The config it is rebuilt from.</summary>
    public CodedLinearConfig LinearConfig => new(InFeatures, OutFeatures, Bits, ZeroLess, Bias is not null, Input?.Config);

    /// <summary>An empty map of <paramref name="config"/>.</summary>
    internal static CodedLinear FromConfig(CodedLinearConfig config) => new(config.InFeatures, config.OutFeatures, config.Bits, config.ZeroLess, config.Bias,
        config.Input is null ? null : FrozenActivationQuantizer.FromConfig(config.Input));
}
