// ONNX Runtime CPU latency of FP32 vs round-to-nearest exports (issue 4's benchmark). Usage:
//   dotnet run --project bench/OrtLatency -c Release -- ffn [--width 384] [--hidden 1536] [--tokens 4096,32] [--runs 30]
//   dotnet run --project bench/OrtLatency -c Release -- minilm [--batch 8] [--seq 128] [--runs 20]
// Both take [--accuracy-level N]: ORT's session option session.qdq_matmulnbits_accuracy_level, the accuracy_level of the
// MatMulNBits that DequantizeLinear → MatMul is fused into (0 = unset: ORT 1.31's default, 4 = int8 compute; 1 = fp32).
//   dotnet run --project bench/OrtLatency -c Release -- structured [--width 384] [--tokens 4096,32] [--runs 30]
//     (issue 7: the FFN pair d → 4d → d dense vs LowRank / BlockShuffle / BlockDense at ~32% of the FFN weights and
//     the pre-merged form)
// Prints a markdown table: median and p90 latency per variant, speed-up vs FP32, file size, and the kernels ORT
// fused at ORT_ENABLE_ALL (how the model is deployed).
using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers;
using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Layers.Structured;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Models;
using Microsoft.ML.OnnxRuntime;
using DenseTensorF = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using DenseTensorL = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;
using Tensor = TorchSharp.torch.Tensor;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

string mode = args.Length > 0 ? args[0] : "ffn";
if (mode == "int8")
{
    // Issue 18's benchmark: int8 speed exports against FP32 and the quantize_dynamic peer (bench/README.md).
    string what = args.Length > 1 ? args[1] : "minilm";
    string Opt(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
    OrtLatency.Int8Bench.Threads = int.Parse(Opt("--threads", "2"));
    int n = int.Parse(Opt("--runs", "20"));
    var k = new LayerKindSet(BuiltInLayerKinds.All).With(new RtnPlugin().LayerKinds);
    string work = Directory.CreateTempSubdirectory("ort-int8-").FullName;
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
    if (what == "minilm") OrtLatency.MiniLmInt8.Run(work, k, n, Opt("--text", "bench/data/text/moby-dick.txt"), Opt("--only", ""));
    else if (what == "gemm") OrtLatency.GemmLimit.Run(work, n, int.Parse(Opt("--m", "2048")), int.Parse(Opt("--k", "1024")), int.Parse(Opt("--n", "4096")));
    else if (what is "vit" or "resnet18") OrtLatency.VisionInt8.Run(work, k, n, what, Opt("--only", ""), int.Parse(Opt("--batch", "8")));
    else if (what == "resnet18-layers") OrtLatency.ConvLayers.Run(k, Enum.Parse<CalibrationMethod>(Opt("--calibration", "minmax"), ignoreCase: true));
    else if (what == "profile") OrtLatency.Profile.Run(Opt("--model", ""), n, Opt("--nodes", ""));
    else if (what == "pair") OrtLatency.Profile.Pair(Opt("--fp32", ""), Opt("--model", ""), n, int.Parse(Opt("--rounds", "3")));
    else throw new ArgumentException($"int8 {what}: expected minilm, gemm, vit, resnet18, resnet18-layers, profile or pair");
    Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
    if (args.Contains("--keep")) Console.WriteLine($"kept the ONNX files in {work} (profile one with: int8 profile --model FILE)");
    else Directory.Delete(work, recursive: true);
    return;
}
string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
int runs = int.Parse(Arg("--runs", "30"));
string accuracyLevel = Arg("--accuracy-level", "0");
var variants = new (string Label, int Bits, int Group)[] { ("fp32", 0, 0), ("int8 per-channel", 8, 0), ("int4 group 32", 4, 32), ("int4 group 128", 4, 128), ("int2 group 32", 2, 32) };
string dir = Directory.CreateTempSubdirectory("ort-latency-").FullName;
// The kinds a host running rtn knows (the layers library's, rtn's own: none); the structured kinds are the library's.
var kinds = new LayerKindSet(BuiltInLayerKinds.All).With(new RtnPlugin().LayerKinds);
Console.WriteLine($"ONNX Runtime {OnnxVerifier.OrtVersion}, {Environment.ProcessorCount} cores, intra-op threads {Environment.ProcessorCount}, ORT_ENABLE_ALL, {runs} timed runs after 5 warm-up runs, " +
                  $"MatMulNBits accuracy level {(accuracyLevel == "0" ? "ORT default" : accuracyLevel)}");
Console.WriteLine();

if (mode == "ffn")
{
    int width = int.Parse(Arg("--width", "384")), hidden = int.Parse(Arg("--hidden", "1536"));
    var tokens = Arg("--tokens", "4096,32").Split(',').Select(int.Parse).ToArray();
    Console.WriteLine($"FFN pair {width} → {hidden} → {width} (GELU), random weights (seed 0; latency does not depend on values)");
    Console.WriteLine();
    Console.WriteLine("| variant | tokens | median ms | p90 ms | speed-up vs fp32 | bytes | fused kernels |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    foreach (int t in tokens)
    {
        double fp = 0;
        foreach (var (label, bits, group) in variants)
        {
            manual_seed(0);
            var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = width, ["hidden"] = new JArray(hidden), ["outputs"] = width, ["activation"] = "gelu" });
            using var model = ArchitectureRegistry.CreateModel(spec, kinds);
            if (bits > 0) Quantize(model, bits, group);
            var r = Measure(model, $"{dir}/ffn-{bits}-{group}.onnx", kinds, new() { ["input"] = randn(t, width) }, runs, accuracyLevel);
            if (bits == 0) fp = r.Median;
            Console.WriteLine($"| {label} | {t} | {r.Median:F3} | {r.P90:F3} | {fp / r.Median:F2}× | {r.Bytes:N0} | {r.Fused} |");
        }
    }
}
else if (mode == "minilm")
{
    int batch = int.Parse(Arg("--batch", "8")), seq = int.Parse(Arg("--seq", "128"));
    string path = PretrainedModels.MiniLm().ModelPath;
    Console.WriteLine($"all-MiniLM-L6-v2 (real weights), batch {batch} × {seq} tokens, rtn on its 37 linear layers");
    Console.WriteLine();
    Console.WriteLine("| variant | median ms | p90 ms | speed-up vs fp32 | bytes | fused kernels |");
    Console.WriteLine("|---|---|---|---|---|---|");
    var ids = randint(1000, 30000, [batch, seq], dtype: ScalarType.Int64);
    var feeds = new Dictionary<string, Tensor> { ["input_ids"] = ids, ["attention_mask"] = ones_like(ids), ["token_type_ids"] = zeros_like(ids) };
    double fp = 0;
    foreach (var (label, bits, group) in variants)
    {
        using var model = ModelIO.Load(path, kinds);
        if (bits > 0) Quantize(model, bits, group);
        var r = Measure(model, $"{dir}/minilm-{bits}-{group}.onnx", kinds, feeds, runs, accuracyLevel);
        if (bits == 0) fp = r.Median;
        Console.WriteLine($"| {label} | {r.Median:F2} | {r.P90:F2} | {fp / r.Median:F2}× | {r.Bytes:N0} | {r.Fused} |");
    }
}
else if (mode == "structured")
{
    int d = int.Parse(Arg("--width", "384"));
    var tokens = Arg("--tokens", "4096,32").Split(',').Select(int.Parse).ToArray();
    Console.WriteLine($"FFN pair {d} → {4 * d} → {d} (GELU), random weights; structures at ~32% of the FFN weights (LowRank r = d/4, BlockShuffle B = 4, BlockDense B = 4, r = 3d/8)");
    Console.WriteLine();
    Console.WriteLine("| variant | tokens | FFN weights | median ms | p90 ms | speed-up vs dense | bytes |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    var structures = new (string Label, Func<long, long, StructuredLinear>? Make, bool Merge)[]
    {
        ("dense", null, false),
        ("lowrank r=d/4", (n, m) => new LowRankLinear(n, m, d / 4, true), false),
        ("blockshuffle B=4", (n, m) => new BlockShuffleLinear(n, m, 4, true), false),
        ("blockdense B=4 r=3d/8", (n, m) => new BlockDenseLinear(n, m, 3 * d / 8, 4, true), false),
        ("lowrank r=d/4 pre-merged", (n, m) => new LowRankLinear(n, m, d / 4, true), true),
    };
    foreach (int t in tokens)
    {
        double dense = 0;
        foreach (var (label, make, merge) in structures)
        {
            manual_seed(0);
            var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = d, ["hidden"] = new JArray(4 * d), ["outputs"] = d, ["activation"] = "gelu" });
            using var model = ArchitectureRegistry.CreateModel(spec, kinds);
            long weights = 8L * d * d;
            if (make is not null)
            {
                weights = 0;
                foreach (var layer in model.Select(LayerType.Linear, LayerSelector.All))
                {
                    var s = make(layer.WeightShape[1], layer.WeightShape[0]);
                    using (no_grad()) foreach (var p in s.parameters()) p.normal_(0, 0.05);
                    s.PreMerged = merge;
                    weights += s.StructuredParameterCount;
                    model.ReplaceLayer(layer.Name, s);
                }
            }
            var r = Measure(model, $"{dir}/structured-{t}.onnx", kinds, new() { ["input"] = randn(t, d) }, runs, accuracyLevel);
            if (make is null) dense = r.Median;
            Console.WriteLine($"| {label} | {t} | {weights:N0} ({(double)weights / (8L * d * d):P1}) | {r.Median:F3} | {r.P90:F3} | {dense / r.Median:F2}× | {r.Bytes:N0} |");
        }
    }
}
Directory.Delete(dir, recursive: true);

static void Quantize(CompressibleModel model, int bits, int group)
{
    foreach (var layer in model.Select(LayerType.Linear, LayerSelector.All))
    {
        var lin = (TorchSharp.Modules.Linear)layer.Module;
        var q = RoundToNearestQuantizer.Quantize(lin.weight!.detach(), bits, group, QuantScheme.Symmetric, clipSearch: false);
        model.ReplaceLayer(layer.Name, QuantizedLayer.FromCodes(WeightGeometry.Of(lin), new QuantizedFormat(bits, group, q.ZeroPoints is null), q.Codes, q.Scales, q.ZeroPoints, lin.bias?.detach()));
    }
}

static (double Median, double P90, long Bytes, string Fused) Measure(CompressibleModel model, string path, LayerKindSet kinds, Dictionary<string, Tensor> feeds, int runs, string accuracyLevel)
{
    var export = OnnxExporter.Export(model, path, kinds);
    string optimized = path + ".opt.onnx";
    using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = Environment.ProcessorCount, OptimizedModelFilePath = optimized, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
    if (accuracyLevel != "0") options.AddSessionConfigEntry("session.qdq_matmulnbits_accuracy_level", accuracyLevel);
    using var session = new InferenceSession(path, options);
    var inputs = feeds.Select(kv => kv.Value.dtype == ScalarType.Int64
        ? NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensorL(kv.Value.data<long>().ToArray(), kv.Value.shape.Select(d => (int)d).ToArray()))
        : NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensorF(kv.Value.data<float>().ToArray(), kv.Value.shape.Select(d => (int)d).ToArray()))).ToList();
    for (int i = 0; i < 5; i++) using (session.Run(inputs)) { }
    var times = new List<double>();
    for (int i = 0; i < runs; i++)
    {
        var clock = Stopwatch.StartNew();
        using (session.Run(inputs)) { }
        times.Add(clock.Elapsed.TotalMilliseconds);
    }
    times.Sort();
    var fused = OnnxVerifier.FusedKernels(Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)), Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)));
    return (times[times.Count / 2], times[(int)Math.Ceiling(0.9 * times.Count) - 1], new FileInfo(path).Length,
        string.Join(", ", fused.Where(k => k.Key.Contains("MatMul") || k.Key.Contains("Gelu")).Select(k => $"{k.Key}×{k.Value}")));
}
