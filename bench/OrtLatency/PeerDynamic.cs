using Google.Protobuf;
using Onnx;

namespace OrtLatency;

/// <summary>The peer baseline of the int8 benchmark: the graph ONNX Runtime's <c>quantize_dynamic</c> writes
/// (per-channel symmetric int8 weights, dynamic uint8 activations), built here from an FP32 ONNX file by graph surgery
/// so that the benchmark needs no Python: every MatMul whose right operand is a constant [K, N] float matrix becomes
/// DynamicQuantizeLinear(A) → MatMulInteger(a_q, W_q, a_zp, 0) → Cast → Mul(a_scale·w_scale[N]) (ORT fuses it into
/// DynamicQuantizeMatMul), and every Conv with a constant kernel DynamicQuantizeLinear(X) → ConvInteger → Cast →
/// Mul(a_scale·w_scale[C]) (→ Add bias). One DynamicQuantizeLinear per distinct input, shared by its readers (as the
/// quantizer reuses a quantized value). Weights: s = max|w|/127 per output channel, q = round(w/s).</summary>
internal static class PeerDynamic
{
    public static (int MatMuls, int Convs) Build(string fp32Path, string outPath)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fp32Path));
        var g = model.Graph;
        var inits = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var quantized = new Dictionary<string, (string Q, string S, string Z)>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>();
        var removeInits = new HashSet<string>(StringComparer.Ordinal);
        int matmuls = 0, convs = 0, id = 0;
        string Fresh(string hint) => $"peer_{hint}_{id++}";

        (string Q, string S, string Z) Quantize(string x)
        {
            if (quantized.TryGetValue(x, out var v)) return v;
            v = (Fresh("q"), Fresh("s"), Fresh("z"));
            nodes.Add(Node("DynamicQuantizeLinear", [x], [v.Q, v.S, v.Z]));
            quantized[x] = v;
            return v;
        }

        foreach (var n in g.Node)
        {
            bool isMatMul = n.OpType == "MatMul" && n.Input.Count == 2 && inits.TryGetValue(n.Input[1], out var wm) && wm.Dims.Count == 2 && wm.DataType == 1;
            bool isConv = n.OpType == "Conv" && n.Input.Count >= 2 && inits.TryGetValue(n.Input[1], out var wc) && wc.Dims.Count == 4 && wc.DataType == 1;
            if (!isMatMul && !isConv) { nodes.Add(n); continue; }
            var w = inits[n.Input[1]];
            float[] values = Floats(w);
            long rows = isMatMul ? w.Dims[1] : w.Dims[0];                  // output channels
            long per = values.Length / rows;
            var scales = new float[rows];
            var codes = new sbyte[values.Length];
            for (long c = 0; c < rows; c++)
            {
                float max = 0;
                for (long k = 0; k < per; k++) max = Math.Max(max, Math.Abs(values[Index(isMatMul, c, k, rows, per)]));
                float s = max > 0 ? max / 127f : 1f;
                scales[c] = s;
                for (long k = 0; k < per; k++)
                {
                    long i = Index(isMatMul, c, k, rows, per);
                    codes[i] = (sbyte)Math.Clamp(Math.Round(values[i] / s, MidpointRounding.ToEven), -127, 127);
                }
            }
            string wq = Fresh("w"), ws = Fresh("ws"), wz = Fresh("wz");
            g.Initializer.Add(Tensor(wq, 3, [.. w.Dims], codes.Select(b => (byte)b).ToArray()));
            g.Initializer.Add(Tensor(ws, 1, isMatMul ? [rows] : [1, rows, 1, 1], scales.SelectMany(BitConverter.GetBytes).ToArray()));
            // ConvInteger takes only a per-tensor weight zero point (ORT 1.31: "Non per-tensor quantization is not supported");
            // the weights are symmetric, so 0 either way.
            g.Initializer.Add(isMatMul ? Tensor(wz, 3, [rows], new byte[rows]) : Tensor(wz, 3, [], [0]));
            removeInits.Add(w.Name);
            var (q, s0, z) = Quantize(n.Input[0]);
            string acc = Fresh("acc"), f = Fresh("f"), scale = Fresh("scale");
            if (isMatMul)
            {
                nodes.Add(Node("MatMulInteger", [q, wq, z, wz], [acc]));
                matmuls++;
            }
            else
            {
                var conv = Node("ConvInteger", [q, wq, z, wz], [acc]);
                conv.Attribute.AddRange(n.Attribute);
                nodes.Add(conv);
                convs++;
            }
            nodes.Add(Node("Cast", [acc], [f], new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = 1 }));
            nodes.Add(Node("Mul", [s0, ws], [scale]));
            if (isConv && n.Input.Count > 2 && n.Input[2].Length > 0)
            {
                string scaled = Fresh("scaled"), bias = Fresh("bias");
                nodes.Add(Node("Mul", [f, scale], [scaled]));
                var b = inits[n.Input[2]];
                g.Initializer.Add(Tensor(bias, 1, [1, b.Dims[0], 1, 1], Floats(b).SelectMany(BitConverter.GetBytes).ToArray()));
                nodes.Add(Node("Add", [scaled, bias], [n.Output[0]]));
            }
            else
            {
                nodes.Add(Node("Mul", [f, scale], [n.Output[0]]));
            }
        }
        g.Node.Clear();
        g.Node.AddRange(nodes);
        var still = nodes.SelectMany(x => x.Input).ToHashSet(StringComparer.Ordinal);
        var keep = g.Initializer.Where(t => !removeInits.Contains(t.Name) || still.Contains(t.Name)).ToList();
        g.Initializer.Clear();
        g.Initializer.AddRange(keep);
        var onnx = model.OpsetImport.First(o => o.Domain is "" or "ai.onnx");
        if (onnx.Version < 11) onnx.Version = 11;
        using var fs = File.Create(outPath);
        model.WriteTo(fs);
        return (matmuls, convs);
    }

    /// <summary>Flat index of (output channel c, k-th weight of that channel): a MatMul's W is [K, N] (column c), a
    /// Conv's [C, …] (row c).</summary>
    private static long Index(bool matMul, long c, long k, long rows, long per) => matMul ? k * rows + c : c * per + k;

    private static float[] Floats(TensorProto t)
    {
        if (t.RawData.Length > 0)
        {
            var bytes = t.RawData.ToByteArray();
            var f = new float[bytes.Length / 4];
            Buffer.BlockCopy(bytes, 0, f, 0, bytes.Length);
            return f;
        }
        return [.. t.FloatData];
    }

    private static TensorProto Tensor(string name, int type, long[] dims, byte[] raw)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = outputs[0] + "_node" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }
}
