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
        if (context.Target == ExportTarget.Speed && !a.Qkr)
        {
            LowerInteger(context, g, a, input, output);
            return;
        }
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

    /// <summary>The speed form of the standard attention: the q/k/v and output projections and both attention
    /// products on MatMulInteger where the quantizers' scales factor out of the product (per token or per tensor for
    /// rows, per token or per channel for columns, no shifts); any other part keeps its size form.</summary>
    private static void LowerInteger(ILoweringContext context, LoweringGraph g, StatsQAttention a, string input, string output)
    {
        var ig = new IntegerLoweringGraph(g);
        long c = a.Dim, h = a.Heads, d = c / h;
        string Linear(string x, string name) => IntegerLoweringGraph.HasIntegerForm(a.Linear(name)) ? ig.Linear(x, a.Linear(name), name) : g.Linear(x, a.Linear(name), name, 3);
        string qkv = g.Transpose(g.Reshape(Linear(input, "qkv"), "qkv_split", 0, 0, 3, h, d), "qkv_heads", 2, 0, 3, 1, 4);
        string Part(long i) => g.Node("Gather", $"part{i}", [qkv, g.Int64Scalar($"index{i}", i)], new() { ["axis"] = 0L });
        var qq = a.Quantizer("q_quant");
        var kq = a.Quantizer("k_quant");
        var vq = a.Quantizer("v_quant");
        var pq = a.Quantizer("attn_quant");
        string scaled;
        if (IntegerLoweringGraph.FactorsOutOfLastAxis(qq) && IntegerLoweringGraph.FactorsOutOfLastAxis(kq) && kq.Signed)
        {
            string kCodes = ig.CodesOf(Part(1), kq, "k_quant", unsignedOperand: false);
            string kT = g.Transpose(kCodes, "k_T", 0, 1, 3, 2);
            // k's token scales are the columns of q·kᵀ; the 1/√d of the softmax folds into the product's one scale.
            // (one scale per key token: the columns are scaled inside MatMulIntegerToFloat.)
            scaled = kq.Scale.numel() == 1 || IntegerLoweringGraph.PerToken(kq)
                ? ig.ColumnScaledProduct(Part(0), qq, kT, kq, 1.0 / Math.Sqrt(d), "logits")
                : ig.Product(Part(0), qq, kT, kq, [.. kq.ScaleShape[..^2], 1, kq.ScaleShape[^2]], 1.0 / Math.Sqrt(d), "logits");
        }
        else
        {
            string q = g.Quantize(Part(0), qq, "q_quant", 4);
            string k = g.Quantize(Part(1), kq, "k_quant", 4);
            scaled = g.Scale(g.Node("MatMul", "logits", [q, g.Transpose(k, "k_T", 0, 1, 3, 2)]), "scaled", (float)(1.0 / Math.Sqrt(d)));
        }
        string probs = g.Node("Softmax", "softmax", [scaled], new() { ["axis"] = -1L });
        string vFlat = g.Reshape(g.Transpose(Part(2), "v_tokens", 0, 2, 1, 3), "v_flat", 0, 0, c);
        string context2;
        bool vPerChannel = vq.ShiftFeatures == 0 && vq.Signed && (vq.ScaleShape.Length == 0 || (vq.ScaleShape.Length == 1 && vq.ScaleShape[0] == c));
        if (vPerChannel && IntegerLoweringGraph.FactorsOutOfLastAxis(pq))
        {
            string vCodes = ig.CodesOf(vFlat, vq, "v_quant", unsignedOperand: false);
            string vh = g.Transpose(g.Reshape(vCodes, "v_split", 0, 0, h, d), "v_heads", 0, 2, 1, 3);
            context2 = ig.Product(probs, pq, vh, vq, vq.Scale.numel() == 1 ? [1] : [h, 1, d], 1.0, "context");
        }
        else
        {
            string v = g.Quantize(vFlat, vq, "v_quant", 3);
            string vh = g.Transpose(g.Reshape(v, "v_split", 0, 0, h, d), "v_heads", 0, 2, 1, 3);
            context2 = g.Node("MatMul", "context", [g.Quantize(probs, pq, "attn_quant", 4), vh]);
        }
        string o = g.Reshape(g.Transpose(context2, "context_t", 0, 2, 1, 3), "context_flat", 0, 0, c);
        context.AddNode("Identity", [Linear(o, "proj")], [output]);
    }
}
