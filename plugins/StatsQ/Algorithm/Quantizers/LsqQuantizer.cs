using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Quantizers;

/// <summary>Which elements share one LSQ scale.</summary>
public enum LsqGranularity
{
    /// <summary>One scale for the whole tensor.</summary>
    PerTensor,
    /// <summary>One scale per row of a weight [out, in] (the LSQ weight baseline).</summary>
    PerRow,
    /// <summary>One scale per token position: axis −2 of activations [B, N, C] (or [B, H, N, d]), averaged over the rest.</summary>
    PerToken,
    /// <summary>One scale per feature: the last axis (OFQ's V output quantizer).</summary>
    PerChannel,
    /// <summary>One scale per (head, token) of [B, H, N, C] activations: axes −3 and −2, averaged over batch and features
    /// (OFQ's quantizer of the QKR product W_qk·Xᵀ).</summary>
    PerHeadToken,
}

/// <summary>Learned step size quantization (Esser et al.; OFQ's lsq.py; README "LSQ quantizer"):
/// x̂ = s·round_STE(clamp(x/s, Qn, Qp)) with Qn = −2^(b−1), Qp = 2^(b−1) − 1 (signed) or 0, 2^b − 1 (unsigned). The
/// scale is a parameter created at the first forward (or by <see cref="Initialize"/>) from 2·mean|x|/√Qp (signed) or
/// 4·mean|x|/√Qp (unsigned) over the granularity's reduction axes; its gradient is scaled by g = 1/√(Qp·N), N the
/// number of elements sharing one scale; it is clipped to ≥ 1e−5 in the forward only. Gradients: dx̂/dx = 1 inside
/// [Qn, Qp], 0 outside; dx̂/ds = round(x/s) − x/s inside, Qn or Qp outside (times g).</summary>
public sealed class LsqQuantizer : nn.Module<Tensor, Tensor>
{
    private readonly LsqGranularity _granularity;

    /// <summary>Creates an uninitialised quantizer.</summary>
    public LsqQuantizer(int bits, bool signed, LsqGranularity granularity) : base("lsq")
    {
        if (bits < 2 || bits > 8) throw new ArgumentOutOfRangeException(nameof(bits), "LSQ supports 2..8 bits");
        Bits = bits;
        Signed = signed;
        _granularity = granularity;
        (Qn, Qp) = signed ? (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) : (0, (1 << bits) - 1);
    }

    /// <summary>Bits.</summary>
    public int Bits { get; }

    /// <summary>Signed grid (true) or unsigned.</summary>
    public bool Signed { get; }

    /// <summary>Lowest code.</summary>
    public int Qn { get; }

    /// <summary>Highest code.</summary>
    public int Qp { get; }

    /// <summary>The granularity.</summary>
    public LsqGranularity Granularity => _granularity;

    /// <summary>Whether the scale exists yet.</summary>
    public bool IsInitialized => get_parameter("scale") is not null;

    /// <summary>The learnable scale (null before initialisation).</summary>
    public TorchSharp.Modules.Parameter? Scale => get_parameter("scale");

    /// <summary>Creates the scale from <paramref name="x"/> (the reference's lazy first-batch initialisation).</summary>
    public void Initialize(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var abs = x.detach().abs();
        var mean = Reduce(abs);
        var init = mean.mul((Signed ? 2.0 : 4.0) / Math.Sqrt(Qp)).clamp_min(1e-5);
        var p = new TorchSharp.Modules.Parameter(init.contiguous().DetachFromDisposeScope(), requires_grad: true);
        if (IsInitialized) Scale!.copy_(init);
        else register_parameter("scale", p);
    }

    /// <summary>Number of elements that share one scale, for the gradient scale g = 1/√(Qp·N).</summary>
    public long SharedCount(Tensor x) => x.numel() / Math.Max(1, ScaleNumel(x));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!IsInitialized) Initialize(x);
        using var scope = NewDisposeScope();
        double g = 1.0 / Math.Sqrt(Qp * (double)SharedCount(x));
        // Each straight-through trick is written as exact_value.detach() + (t − t.detach()): the added term is exactly 0
        // in the forward, so forward values are exact (s, clamp_min(s), round(z)), while the gradient is that of t.
        var s = Scale!;
        var sg = s.mul(g);
        var sScaled = s.detach().add(sg.sub(sg.detach()));                       // value s, gradient g
        var sClipped = sScaled.detach().clamp_min(1e-5).add(sScaled.sub(sScaled.detach()));  // clip in forward only
        var z = x.div(sClipped).clamp(Qn, Qp);
        var zq = z.detach().round().add(z.sub(z.detach()));                       // round_STE
        return zq.mul(sClipped).MoveToOuterDisposeScope();
    }

    /// <summary>Integer codes clamp(round(x/s), Qn, Qp) (int64), for oscillation tracking and export.</summary>
    public Tensor Codes(Tensor x)
    {
        using var scope = NewDisposeScope();
        var s = Scale!.detach().clamp_min(1e-5);
        return x.detach().div(s).round().clamp(Qn, Qp).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    private long ScaleNumel(Tensor x) => _granularity switch
    {
        LsqGranularity.PerTensor => 1,
        LsqGranularity.PerRow => x.shape[0],
        LsqGranularity.PerToken => x.shape[^2],
        LsqGranularity.PerChannel => x.shape[^1],
        LsqGranularity.PerHeadToken => x.shape[^3] * x.shape[^2],
        _ => 1,
    };

    private Tensor Reduce(Tensor abs) => _granularity switch
    {
        LsqGranularity.PerTensor => abs.mean(),
        LsqGranularity.PerRow => abs.reshape(abs.shape[0], -1).mean([1L], keepdim: true).reshape([abs.shape[0], .. Enumerable.Repeat(1L, (int)abs.dim() - 1)]),
        // Tokens on axis −2: average over every other axis; keep the shape [N, 1] so it broadcasts over [.., N, C].
        LsqGranularity.PerToken => abs.transpose(-2, 0).reshape(abs.shape[^2], -1).mean([1L]).reshape(abs.shape[^2], 1),
        LsqGranularity.PerChannel => abs.reshape(-1, abs.shape[^1]).mean([0L]),
        LsqGranularity.PerHeadToken => abs.reshape(-1, abs.shape[^3], abs.shape[^2], abs.shape[^1]).mean([0L, 3L]).unsqueeze(-1),
        _ => abs.mean(),
    };
}
