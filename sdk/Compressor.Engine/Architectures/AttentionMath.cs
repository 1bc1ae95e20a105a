using Compressor.Engine.Onnx.Export;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>Scaled dot-product attention over heads, in TorchSharp and as ONNX nodes, shared by the BERT and Llama
/// families: heads split from [B, T, H·d] to [B, H, T, d], softmax(q·kᵀ/√d + mask)·v, heads merged back.</summary>
internal static class AttentionMath
{
    /// <summary>[B, T, H·d] → [B, H, T, d].</summary>
    public static Tensor SplitHeads(Tensor x, long heads)
    {
        using var r = x.reshape(x.shape[0], x.shape[1], heads, -1);
        return r.transpose(1, 2);
    }

    /// <summary>softmax(q·kᵀ/√d + mask)·v on heads [B, H, T, d], merged to [B, T, H·d]. <paramref name="mask"/> is
    /// additive and broadcasts to [B, H, Tq, Tk]; null for none.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long d = q.shape[^1];
        var scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(d));
        if (mask is not null) scores = scores.add(mask);
        var o = scores.softmax(-1).matmul(v).transpose(1, 2);
        return o.reshape(o.shape[0], o.shape[1], -1).MoveToOuterDisposeScope();
    }

    /// <summary>Repeats each of <paramref name="x"/>'s heads [B, G, T, d] <paramref name="times"/> times in a row
    /// ([B, G·times, T, d]), Hugging Face's <c>repeat_kv</c> for grouped-query attention.</summary>
    public static Tensor RepeatHeads(Tensor x, long times)
    {
        if (times == 1) return x.alias();
        long b = x.shape[0], g = x.shape[1], t = x.shape[2], d = x.shape[3];
        using var e = x.unsqueeze(2).expand(b, g, times, t, d);
        return e.reshape(b, g * times, t, d);
    }

    /// <summary>ONNX: [B, T, H·d] → [B, H, T, d].</summary>
    public static string SplitHeads(IOnnxExportContext c, string x, long heads) =>
        TransformerOnnx.Transpose(c, TransformerOnnx.Reshape(c, x, 0, 0, heads, -1), 0, 2, 1, 3);

    /// <summary>ONNX: [B, G, T, d] → [B, G·times, T, d].</summary>
    public static string RepeatHeads(IOnnxExportContext c, string x, long groups, long times, long headDim)
    {
        if (times == 1) return x;
        string u = c.AddNode("Unsqueeze", x, c.Int64Constant(2));                       // [B, G, 1, T, d]
        string shape = c.AddNode("Shape", u);
        string b = c.AddNode("Slice", shape, c.Int64Constant(0), c.Int64Constant(1));
        string t = c.AddNode("Slice", shape, c.Int64Constant(3), c.Int64Constant(4));
        string target = c.AddNode("Concat", [b, c.Int64Constant(groups, times), t, c.Int64Constant(headDim)], [c.UniqueName("Concat")],
            new Dictionary<string, object> { ["axis"] = 0L });
        string e = c.AddNode("Expand", u, target);
        return TransformerOnnx.Reshape(c, e, 0, groups * times, -1, headDim);
    }

    /// <summary>ONNX: softmax(q·kᵀ/√d + mask)·v merged to [B, T, H·d].</summary>
    public static string Attend(IOnnxExportContext c, string q, string k, string v, string? mask, long headDim = 0)
    {
        string scores = c.AddNode("MatMul", q, TransformerOnnx.Transpose(c, k, 0, 1, 3, 2));
        string scale = headDim > 0 ? c.FloatConstant((float)(1.0 / Math.Sqrt(headDim))) : InverseSqrtLastDim(c, q);
        scores = c.AddNode("Mul", scores, scale);
        if (mask is not null) scores = c.AddNode("Add", scores, mask);
        string p = c.AddNode("Softmax", [scores], [c.UniqueName("Softmax")], new Dictionary<string, object> { ["axis"] = -1L });
        string o = TransformerOnnx.Transpose(c, c.AddNode("MatMul", p, v), 0, 2, 1, 3);
        return TransformerOnnx.Reshape(c, o, 0, 0, -1);
    }

    private static string InverseSqrtLastDim(IOnnxExportContext c, string q)
    {
        string d = c.AddNode("Cast", [TransformerOnnx.Dim(c, q, 3)], [c.UniqueName("Cast")], new Dictionary<string, object> { ["to"] = 1L });
        return c.AddNode("Reciprocal", c.AddNode("Sqrt", d));
    }
}
