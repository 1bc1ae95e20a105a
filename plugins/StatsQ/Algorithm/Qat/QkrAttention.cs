using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Qat;

/// <summary>Query–key reparameterised attention (OFQ <c>QAttention_qkreparam</c>; README
/// "Query-key reparameterization (QKR)"). The latent parameters stay W_q and W_k (<c>q_weight</c>, <c>k_weight</c>,
/// [C, C], heads stacked by rows); every forward forms per head W_qk^h = (W_q^h)ᵀ·W_k^h ∈ R^{C×C} and quantizes the
/// stacked (H·C)×C matrix with StatsQ (one scale per (head, input dim) row). With X_q the quantized block input (shared
/// with the V path), T^h = X_q·Q(W_qk^h)ᵀ is quantized per (head, token) and the logits are T^h·X_qᵀ·d^−½ — i.e. X_q
/// Q(W_qk^h) X_qᵀ. V uses its own StatsQ linear <c>v</c> (with bias) and a per-channel output quantizer; softmax
/// probabilities are quantized unsigned per query row; the output projection <c>proj</c> is a <see cref="QatLinear"/>
/// with its input quantizer. The reference drops the q/k biases; <see cref="QueryBias"/> optionally keeps the only bias
/// term softmax is not invariant to, b_qᵀ·W_k·x_j, exactly.</summary>
public sealed class QkrAttention : LayerContainer
{
    private readonly int _heads, _bits;

    /// <summary>Builds the attention from a fused qkv linear [3C, C] and an output projection.</summary>
    public QkrAttention(TorchSharp.Modules.Linear qkv, QatLinear proj, int heads, int bits, bool keepQueryBias) : base("qkr_attn")
    {
        _heads = heads; _bits = bits;
        long c = qkv.in_features;
        using (no_grad())
        {
            var w = qkv.weight!.detach();
            register_parameter("q_weight", new TorchSharp.Modules.Parameter(w[..(int)c].clone()));
            register_parameter("k_weight", new TorchSharp.Modules.Parameter(w[(int)c..(int)(2 * c)].clone()));
            var v = nn.Linear(c, c, hasBias: qkv.bias is not null, device: w.device);
            v.weight!.copy_(w[(int)(2 * c)..]);
            if (qkv.bias is { } b)
            {
                v.bias!.copy_(b[(int)(2 * c)..]);
                if (keepQueryBias) register_buffer("q_bias", b[..(int)c].clone().DetachFromDisposeScope());
            }
            register_module("v", new QatLinear(v, WeightQuantizerKind.StatsQ, bits, act: null));
        }
        register_module("act_in", new ActivationQuantizer(c, bits, signed: true, LsqGranularity.PerToken, qkv.weight!.device));
        register_module("t_quant", new LsqQuantizer(bits, signed: true, LsqGranularity.PerHeadToken));
        register_module("v_quant", new LsqQuantizer(bits, signed: true, LsqGranularity.PerChannel));
        register_module("attn_quant", new LsqQuantizer(bits, signed: false, LsqGranularity.PerToken));
        register_module("proj", proj);
    }

    /// <summary>Heads.</summary>
    public int Heads => _heads;

    /// <summary>Weight bits of W_qk and W_v.</summary>
    public int Bits => _bits;

    /// <summary>The kept query bias (null when dropped, the reference behaviour).</summary>
    public Tensor? QueryBias => get_buffer("q_bias");

    /// <summary>When false every quantizer is bypassed (float reparameterised attention), for identity checks.</summary>
    public bool QuantizationEnabled { get; set; } = true;

    /// <summary>The per-head product W_qk [H, C, C] = (W_q^h)ᵀ W_k^h, before quantization.</summary>
    public Tensor QueryKeyProduct()
    {
        var wq = get_parameter("q_weight")!;
        var wk = get_parameter("k_weight")!;
        long c = wq.shape[1], d = c / _heads;
        using var q = wq.reshape(_heads, d, c);
        using var k = wk.reshape(_heads, d, c);
        using var qt = q.transpose(1, 2);
        return qt.matmul(k);
    }

    /// <summary>The StatsQ codes of the stacked W_qk (for oscillation tracking).</summary>
    public Tensor QueryKeyCodes()
    {
        using var wqk = QueryKeyProduct();
        using var stacked = wqk.reshape(-1, wqk.shape[^1]);
        return StatsQuantizer.Codes(stacked, _bits);
    }

    /// <summary>Attention logits [B, H, N, N] (scaled by d^−½) from the (quantized) block input.</summary>
    public Tensor Logits(Tensor xq)
    {
        using var scope = NewDisposeScope();
        long c = xq.shape[^1], d = c / _heads;
        var wqk = QueryKeyProduct();
        if (QuantizationEnabled)
            wqk = StatsQuantizer.Quantize(wqk.reshape(-1, c), _bits).reshape(_heads, c, c);
        // T^h = Q(W_qk^h) Xᵀ (C × N), held transposed as X Q(W_qk^h)ᵀ [B, H, N, C] so that tokens sit on axis −2;
        // quantized per (head, token); logits = X T^h = X Q(W_qk^h) Xᵀ.
        var t = xq.unsqueeze(1).matmul(wqk.transpose(1, 2));
        if (QuantizationEnabled) t = ((LsqQuantizer)GetChild("t_quant")).forward(t);
        var logits = xq.unsqueeze(1).matmul(t.transpose(-2, -1));
        if (QueryBias is { } bq)
        {
            // b_qᵀ W_k x_j per head: [H, C] · [B, 1, C, N] → [B, H, 1, N], broadcast over queries.
            var wk = get_parameter("k_weight")!.reshape(_heads, d, c);
            var bwk = bq.reshape(_heads, 1, d).matmul(wk).squeeze(1);
            logits = logits.add(xq.matmul(bwk.t()).transpose(1, 2).unsqueeze(2));
        }
        return logits.mul(1.0 / Math.Sqrt(d)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], d = c / _heads;
        var actIn = (ActivationQuantizer)GetChild("act_in");
        var vLayer = (QatLinear)GetChild("v");
        actIn.Enabled = QuantizationEnabled;
        vLayer.WeightQuantization = QuantizationEnabled;
        var xq = actIn.forward(x);
        var attn = Logits(xq).softmax(-1);
        if (QuantizationEnabled) attn = ((LsqQuantizer)GetChild("attn_quant")).forward(attn);
        var v = vLayer.forward(xq);
        if (QuantizationEnabled) v = ((LsqQuantizer)GetChild("v_quant")).forward(v);
        var heads = v.reshape(b, n, _heads, d).transpose(1, 2);
        var o = attn.matmul(heads).transpose(1, 2).reshape(b, n, c);
        var proj = (QatLinear)GetChild("proj");
        proj.WeightQuantization = QuantizationEnabled;
        if (proj.Activation is { } pa) pa.Enabled = QuantizationEnabled;
        return proj.forward(o).MoveToOuterDisposeScope();
    }
}
