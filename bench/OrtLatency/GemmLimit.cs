using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace OrtLatency;

/// <summary><c>int8 gemm</c>: the limit of integer speed-ups on this CPU — one large product X[M, K]·W[K, N] with a
/// constant W, in FP32 (MatMul: MLAS SGEMM) against int8 (MatMulInteger on uint8 X and int8 W: MLAS's U8S8 kernel,
/// VNNI where the CPU has it, int32 out) and against the full dynamic path (DynamicQuantizeLinear → MatMulInteger →
/// Cast → Mul, fused into DynamicQuantizeMatMul), timed interleaved with FP32.</summary>
internal static class GemmLimit
{
    public static void Run(string dir, int runs, int m, int k, int n)
    {
        var rng = new Random(0);
        var w = Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.05f).ToArray();
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var xq = x.Select(v => (byte)Math.Clamp(Math.Round(v * 127 + 128), 0, 255)).ToArray();
        string fp32 = Write(Path.Combine(dir, "gemm-fp32.onnx"), m, k, n, w, "fp32");
        string integer = Write(Path.Combine(dir, "gemm-int8.onnx"), m, k, n, w, "int8");
        string dynamic = Write(Path.Combine(dir, "gemm-dynamic.onnx"), m, k, n, w, "dynamic");
        var fFeeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [m, k])) };
        var qFeeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<byte>(xq, [m, k])) };
        double gmac = (double)m * k * n / 1e9;
        Console.WriteLine($"One GEMM [{m}, {k}] × [{k}, {n}] ({gmac:F2} GMAC), constant weights, ORT_ENABLE_ALL, {Int8Bench.Threads} intra-op threads, {runs} interleaved pairs");
        Console.WriteLine();
        Console.WriteLine("| form | median ms | p90 ms | GMAC/s | speed-up vs FP32 (p10–p90) | kernel |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (label, path, feeds) in new[] { ("int8 MatMulInteger (u8 × s8 → s32), inputs already uint8", integer, qFeeds), ("int8 dynamic (quantize X + MatMulInteger + scale)", dynamic, fFeeds) })
        {
            var (fMed, vMed, vP90, r, r10, r90) = Pair(fp32, fFeeds, path, feeds, runs);
            Console.WriteLine($"| {label} | {vMed:F2} | {vP90:F2} | {gmac / vMed * 1000:F1} | {r:F2}× ({r10:F2}–{r90:F2}; FP32 {fMed:F2} ms = {gmac / fMed * 1000:F1} GMAC/s) | {Kernel(path)} |");
        }
    }

    private static (double F, double V, double VP90, double R, double R10, double R90) Pair(string a, List<NamedOnnxValue> fa, string b, List<NamedOnnxValue> fb, int runs)
    {
        using var oa = Int8Bench.Options();
        using var ob = Int8Bench.Options();
        using var sa = new InferenceSession(a, oa);
        using var sb = new InferenceSession(b, ob);
        for (int i = 0; i < 5; i++) { using (sa.Run(fa)) { } using (sb.Run(fb)) { } }
        var ta = new double[runs];
        var tb = new double[runs];
        var r = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long s = Stopwatch.GetTimestamp();
            using (sa.Run(fa)) { }
            ta[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
            s = Stopwatch.GetTimestamp();
            using (sb.Run(fb)) { }
            tb[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
            r[i] = ta[i] / tb[i];
        }
        return (Int8Bench.P(ta, 0.5), Int8Bench.P(tb, 0.5), Int8Bench.P(tb, 0.9), Int8Bench.P(r, 0.5), Int8Bench.P(r, 0.1), Int8Bench.P(r, 0.9));
    }

    private static string Kernel(string path)
    {
        string opt = path + ".opt.onnx";
        using (var so = Int8Bench.Options(opt)) using (new InferenceSession(path, so)) { }
        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(opt)).Graph.Node.Select(x => x.OpType).Distinct();
        return string.Join(", ", ops);
    }

    private static string Write(string path, int m, int k, int n, float[] w, string form)
    {
        var g = new GraphProto { Name = "gemm" };
        g.Input.Add(Value("x", form == "int8" ? 2 : 1, m, k));
        g.Output.Add(Value("y", form == "int8" ? 6 : 1, m, n));
        if (form == "fp32")
        {
            g.Initializer.Add(Tensor("w", 1, [k, n], w.SelectMany(BitConverter.GetBytes).ToArray()));
            g.Node.Add(Node("MatMul", ["x", "w"], ["y"]));
        }
        else
        {
            var scale = new float[n];
            var codes = new byte[k * n];
            for (int c = 0; c < n; c++)
            {
                float max = 0;
                for (int r = 0; r < k; r++) max = Math.Max(max, Math.Abs(w[r * n + c]));
                scale[c] = max / 127;
                for (int r = 0; r < k; r++) codes[r * n + c] = (byte)(sbyte)Math.Round(w[r * n + c] / scale[c]);
            }
            g.Initializer.Add(Tensor("wq", 3, [k, n], codes));
            if (form == "int8")
            {
                g.Initializer.Add(Tensor("xz", 2, [], [128]));
                g.Node.Add(Node("MatMulInteger", ["x", "wq", "xz"], ["y"]));
            }
            else
            {
                g.Initializer.Add(Tensor("ws", 1, [n], scale.SelectMany(BitConverter.GetBytes).ToArray()));
                g.Node.Add(Node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]));
                g.Node.Add(Node("MatMulInteger", ["q", "wq", "z"], ["acc"]));
                var cast = Node("Cast", ["acc"], ["f"]);
                cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                g.Node.Add(cast);
                g.Node.Add(Node("Mul", ["s", "ws"], ["sw"]));
                g.Node.Add(Node("Mul", ["f", "sw"], ["y"]));
            }
        }
        var model = new ModelProto { IrVersion = 10, Graph = g, ProducerName = "bench" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        using var fs = File.Create(path);
        model.WriteTo(fs);
        return path;
    }

    private static ValueInfoProto Value(string name, int type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = shape } } };
    }

    private static TensorProto Tensor(string name, int type, long[] dims, byte[] raw)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs)
    {
        var x = new NodeProto { OpType = op, Name = outputs[0] };
        x.Input.AddRange(inputs);
        x.Output.AddRange(outputs);
        return x;
    }
}
