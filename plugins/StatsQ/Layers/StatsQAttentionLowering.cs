using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>Lowers <see cref="StatsQAttention"/> node for node as its forward computes: coded linears (DQ → MatMul),
/// activation quantizers as QuantizeLinear/DequantizeLinear pairs, Softmax in float. The QKR product's per-(head,
/// token) quantizer runs on T reshaped to [B, H·N, C] so that its scale is one axis.</summary>
internal static class StatsQAttentionLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower(ILoweringContext context, StatsQAttention a, string input, string output)
    {
        var g = new LoweringGraph(context);
        long c = a.Dim, h = a.Heads, d = c / h;
        string attnLogits, v;
        if (a.Qkr)
        {
            string xq = g.Quantize(input, a.Quantizer("act_in"), "act_in", 3);
            string t = g.Transpose(g.Reshape(g.Linear(xq, a.Linear("qk"), "qk", 3), "t_heads", 0, 0, h, c), "t", 0, 2, 1, 3);   // [B, H, N, C]
            var tq = a.Quantizer("t_quant");
            long tokens = tq.ScaleShape[^2];
            using (var flatScale = tq.Scale.reshape(h * tokens, 1))
            {
                string flat = g.Reshape(t, "t_flat", 0, h * tokens, c);
                string quantized = ActivationQdq.Emit(context, flat, flatScale, tq.Qn, tq.Qp, "t_quant", 3, g.Scalar);
                t = g.Reshape(quantized, "t_q", 0, h, tokens, c);
            }
            string xh = g.Node("Unsqueeze", "x_heads", [xq, g.Int64("x_heads_axes", 1)]);
            attnLogits = g.Node("MatMul", "logits", [xh, g.Transpose(t, "t_T", 0, 1, 3, 2)]);
            if (a.QueryBiasKey is { } bk)
            {
                using var bkt = bk.t();
                string term = g.Transpose(g.Node("MatMul", "query_bias", [xq, g.Float("query_bias_key_t", bkt)]), "query_bias_t", 0, 2, 1);
                attnLogits = g.Node("Add", "logits_bias", [attnLogits, g.Node("Unsqueeze", "query_bias_u", [term, g.Int64("query_bias_axes", 2)])]);
            }
            v = g.Quantize(g.Linear(xq, a.Linear("v"), "v", 3), a.Quantizer("v_quant"), "v_quant", 3);
        }
        else
        {
            string qkv = g.Transpose(g.Reshape(g.Linear(input, a.Linear("qkv"), "qkv", 3), "qkv_split", 0, 0, 3, h, d), "qkv_heads", 2, 0, 3, 1, 4);
            string Part(long i) => g.Node("Gather", $"part{i}", [qkv, g.Int64Scalar($"index{i}", i)], new() { ["axis"] = 0L });
            string q = g.Quantize(Part(0), a.Quantizer("q_quant"), "q_quant", 4);
            string k = g.Quantize(Part(1), a.Quantizer("k_quant"), "k_quant", 4);
            string vFlat = g.Reshape(g.Transpose(Part(2), "v_tokens", 0, 2, 1, 3), "v_flat", 0, 0, c);
            v = g.Quantize(vFlat, a.Quantizer("v_quant"), "v_quant", 3);
            attnLogits = g.Node("MatMul", "logits", [q, g.Transpose(k, "k_T", 0, 1, 3, 2)]);
        }
        string scaled = g.Scale(attnLogits, "scaled", (float)(1.0 / Math.Sqrt(d)));
        string probs = g.Node("Softmax", "softmax", [scaled], new() { ["axis"] = -1L });
        probs = g.Quantize(probs, a.Quantizer("attn_quant"), "attn_quant", 4);
        string vh = g.Transpose(g.Reshape(v, "v_split", 0, 0, h, d), "v_heads", 0, 2, 1, 3);
        string o = g.Reshape(g.Transpose(g.Node("MatMul", "context", [probs, vh]), "context_t", 0, 2, 1, 3), "context_flat", 0, 0, c);
        string y = g.Linear(o, a.Linear("proj"), "proj", 3);
        context.AddNode("Identity", [y], [output]);
    }
}
