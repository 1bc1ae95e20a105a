using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Qat;

/// <summary>Quantized attention without QKR (OFQ <c>QAttention</c>): the fused <c>qkv</c> linear is a
/// <see cref="QatLinear"/> with its input quantizer; q and k are quantized signed per token, v signed per channel,
/// softmax probabilities unsigned per query row; <c>proj</c> is a <see cref="QatLinear"/> with its input quantizer.</summary>
public sealed class QatAttention : LayerContainer
{
    private readonly int _heads;

    /// <summary>Builds the attention around already wrapped <paramref name="qkv"/> and <paramref name="proj"/>.</summary>
    public QatAttention(QatLinear qkv, QatLinear proj, int heads, int bits) : base("qat_attn")
    {
        _heads = heads;
        register_module("qkv", qkv);
        register_module("proj", proj);
        register_module("q_quant", new LsqQuantizer(bits, signed: true, LsqGranularity.PerToken));
        register_module("k_quant", new LsqQuantizer(bits, signed: true, LsqGranularity.PerToken));
        register_module("v_quant", new LsqQuantizer(bits, signed: true, LsqGranularity.PerChannel));
        register_module("attn_quant", new LsqQuantizer(bits, signed: false, LsqGranularity.PerToken));
    }

    /// <summary>Heads.</summary>
    public int Heads => _heads;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], d = c / _heads;
        var qkv = Child("qkv").forward(x).reshape(b, n, 3, _heads, d).permute(2, 0, 3, 1, 4);
        var q = Child("q_quant").forward(qkv[0]);
        var k = Child("k_quant").forward(qkv[1]);
        // V per channel: quantize in [B, N, C] layout so the channel axis is last.
        var v = Child("v_quant").forward(qkv[2].transpose(1, 2).reshape(b, n, c)).reshape(b, n, _heads, d).transpose(1, 2);
        var attn = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(d)).softmax(-1);
        attn = Child("attn_quant").forward(attn);
        var o = attn.matmul(v).transpose(1, 2).reshape(b, n, c);
        return Child("proj").forward(o).MoveToOuterDisposeScope();
    }
}
