using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Lowering;

/// <summary>Activation fake quantization with a fixed (learned, then frozen) scale, as a lowering writes it and as the
/// layer computes it in TorchSharp, so that both agree code for code:
/// <c>y = round(clamp(x, Qn·s, Qp·s) / s)·s</c> with round half to even. In ONNX: <c>Max</c>/<c>Min</c> against
/// <c>s·Qn</c>, <c>s·Qp</c> (the code range of b &lt; 8 bits is narrower than int8/uint8's saturation), then a
/// QuantizeLinear (int8 or uint8 by <c>output_dtype</c>, opset 21, no zero-point tensor) / DequantizeLinear pair with
/// the scale per tensor or per axis. Clamping before dividing gives the same codes as LSQ's <c>round(clamp(x/s))</c>
/// (fl(Qn·s)/s rounds back to Qn). ORT runs the pair on CPU (QDQ); a graph optimiser may fuse it with neighbouring
/// integer-friendly ops.</summary>
public static class ActivationQdq
{
    /// <summary>The TorchSharp reference: <paramref name="scale"/> broadcasts against <paramref name="x"/>'s trailing
    /// dimensions (a scalar, [C], [N, 1], …).</summary>
    public static Tensor Apply(Tensor x, Tensor scale, int qmin, int qmax)
    {
        using var scope = NewDisposeScope();
        var lo = scale.mul(qmin);
        var hi = scale.mul(qmax);
        var clamped = x.maximum(lo).minimum(hi);
        var q = clamped.div(scale).round();
        return q.mul(scale).MoveToOuterDisposeScope();
    }

    /// <summary>The axis, counted from the end (−1 the last), that a scale of shape <paramref name="scaleShape"/>
    /// varies along when it broadcasts against an input's trailing dimensions; null for a per-tensor scale.</summary>
    /// <exception cref="ArgumentException">The scale varies along more than one axis (reshape first).</exception>
    public static long? Axis(long[] scaleShape)
    {
        var varying = Enumerable.Range(0, scaleShape.Length).Where(i => scaleShape[i] != 1).ToList();
        if (varying.Count == 0) return null;
        if (varying.Count > 1)
            throw new ArgumentException($"an activation scale of shape [{string.Join(", ", scaleShape)}] varies along several axes; QuantizeLinear takes one");
        return varying[0] - scaleShape.Length;
    }

    /// <summary>Adds the nodes computing <see cref="Apply"/> on value <paramref name="input"/>. With
    /// <paramref name="inputRank"/> the QuantizeLinear/DequantizeLinear axis is written non-negative (ORT 1.31's
    /// graph optimisations that move a per-axis DQ across a Transpose misplace a negative axis: measured 9.6 dB SQNR at
    /// ORT_ENABLE_ALL on an attention's keys); <paramref name="scalar"/> supplies float scalar constants (to share
    /// them across a layer); by default each call writes its own. Writes <paramref name="scale"/> (float32, in its broadcast shape) as one
    /// initializer. Returns the output value name.</summary>
    public static string Emit(ILoweringContext c, string input, Tensor scale, int qmin, int qmax, string hint, int? inputRank = null, Func<float, string>? scalar = null)
    {
        if (qmin < -128 || qmax > 255 || qmin >= qmax || (qmin < 0 && qmax > 127))
            throw new ArgumentException($"activation code range [{qmin}, {qmax}] does not fit int8 or uint8");
        bool signed = qmin < 0;
        long? axis = Axis(scale.shape);
        if (axis is { } negative && inputRank is { } rank) axis = rank + negative;
        scalar ??= v => Initializers.FloatScalar(c, hint + ".q", v);
        c.RequireOpset("", 21);   // QuantizeLinear's output_dtype attribute
        using var s = scale.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string scaleName = c.UniqueName(hint + ".scale");
        c.AddInitializer(new OnnxInitializer(scaleName, OnnxDataType.Float, s.shape, s.bytes.ToArray()));
        string lo = Node(c, "Mul", hint + "/lo", scaleName, scalar(qmin));
        string hi = Node(c, "Mul", hint + "/hi", scaleName, scalar(qmax));
        string clamped = Node(c, "Min", hint + "/clamp", Node(c, "Max", hint + "/clamp_lo", input, lo), hi);
        string flatScale = axis is null && s.dim() == 0 ? scaleName
            : Node(c, "Reshape", hint + "/scale_q", scaleName, Initializers.Int64Vector(c, hint + ".scale_shape", axis is null ? [] : [-1]));
        var qAttributes = new Dictionary<string, object> { ["output_dtype"] = (long)(signed ? OnnxDataType.Int8 : OnnxDataType.UInt8) };
        var dqAttributes = new Dictionary<string, object>();
        if (axis is { } a) { qAttributes["axis"] = a; dqAttributes["axis"] = a; }
        string q = c.UniqueName(hint + "/q");
        c.AddNode("QuantizeLinear", [clamped, flatScale], [q], qAttributes);
        string y = c.UniqueName(hint + "/dq");
        c.AddNode("DequantizeLinear", [q, flatScale], [y], dqAttributes);
        return y;
    }

    private static string Node(ILoweringContext c, string op, string hint, params string[] inputs)
    {
        string output = c.UniqueName(hint);
        c.AddNode(op, inputs, [output]);
        return output;
    }

}
