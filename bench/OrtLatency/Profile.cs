using Microsoft.ML.OnnxRuntime;
using Newtonsoft.Json.Linq;
using DenseTensorL = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;

namespace OrtLatency;

/// <summary><c>int8 profile --model FILE.onnx</c>: where the time of a model goes (token ids as a MiniLM batch of 8 × 128,
/// float inputs at their declared shape), by operator, from ONNX Runtime's own profiler (SessionOptions.EnableProfiling:
/// per-node kernel times of every run after 3 warm-up runs, summed by op type).</summary>
internal static class Profile
{
    public static void Run(string model, int runs, string? nodesOf = null)
    {
        string prefix = Path.Combine(Path.GetTempPath(), "ort-profile-" + Guid.NewGuid().ToString("N"));
        using var so = Int8Bench.Options();
        so.EnableProfiling = true;
        so.ProfileOutputPathPrefix = prefix;
        using var session = new InferenceSession(model, so);
        var feeds = Feeds(session);
        for (int i = 0; i < 3 + runs; i++) using (session.Run(feeds)) { }
        string file = session.EndProfiling();
        var events = JArray.Parse(File.ReadAllText(file)).Cast<JObject>()
            .Where(e => (string?)e["cat"] == "Node" && ((string?)e["name"])?.EndsWith("_kernel_time") == true).ToList();
        // The first 3 runs are warm-up: keep the last `runs` occurrences of each node.
        var byNode = events.GroupBy(e => (string)e["name"]!).SelectMany(g => g.Skip(Math.Max(0, g.Count() - runs)));
        var byOp = byNode.GroupBy(e => (string?)e["args"]?["op_name"] ?? "?").Select(g => (Op: g.Key, Us: g.Sum(e => (double)e["dur"]!) / runs, Nodes: g.Count() / runs))
            .OrderByDescending(x => x.Us).ToList();
        double total = byOp.Sum(x => x.Us);
        Console.WriteLine($"{Path.GetFileName(model)}: {total / 1000:F1} ms of kernel time per run ({runs} runs)");
        Console.WriteLine();
        Console.WriteLine("| operator | nodes | ms per run | share |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (op, us, nodes) in byOp.Take(16)) Console.WriteLine($"| {op} | {nodes} | {us / 1000:F2} | {us / total:P1} |");
        if (nodesOf is { Length: > 0 })
        {
            // --nodes OP: each node of that operator with its mean time and input shapes (ORT's args.input_type_shape).
            Console.WriteLine();
            Console.WriteLine($"| {nodesOf} node | ms per run | input shapes |");
            Console.WriteLine("|---|---|---|");
            foreach (var g in byNode.Where(e => (string?)e["args"]?["op_name"] == nodesOf).GroupBy(e => (string)e["name"]!))
                Console.WriteLine($"| {g.Key.Replace("_kernel_time", "")} | {g.Sum(e => (double)e["dur"]!) / runs / 1000:F2} | {g.First()["args"]?["input_type_shape"]?.ToString(Newtonsoft.Json.Formatting.None)} |");
        }
        File.Delete(file);
    }

    /// <summary>Feeds from a session's declared inputs: token ids (int64) as a MiniLM batch of 8 × 128 (attention mask
    /// all ones), float inputs N(0, 1)-like uniform values at their declared shape (a symbolic batch as 8).</summary>
    public static List<NamedOnnxValue> Feeds(InferenceSession session)
    {
        var g = new Random(0);
        var feeds = new List<NamedOnnxValue>();
        foreach (var (name, meta) in session.InputMetadata)
        {
            int[] shape = meta.Dimensions.Select((d, i) => d > 0 ? d : i == 0 ? 8 : 128).ToArray();
            int count = shape.Aggregate(1, (a, b) => a * b);
            if (meta.ElementType == typeof(long))
            {
                var values = name switch
                {
                    "input_ids" => Enumerable.Range(0, count).Select(_ => (long)g.Next(1000, 30000)).ToArray(),
                    "attention_mask" => Enumerable.Repeat(1L, count).ToArray(),
                    _ => new long[count],
                };
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensorL(values, shape)));
            }
            else
            {
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(
                    Enumerable.Range(0, count).Select(_ => (float)(g.NextDouble() * 2 - 1)).ToArray(), shape)));
            }
        }
        return feeds;
    }

    /// <summary><c>int8 pair --fp32 A.onnx --model B.onnx[,C.onnx…]</c>: each model timed interleaved with the FP32
    /// file (<see cref="Int8Bench.Time"/>), in rounds that alternate between the models, so that two lowerings of the
    /// same model compare under the same machine load; prints each round's speed-up vs FP32 with its p10–p90.</summary>
    public static void Pair(string fp32, string models, int runs, int rounds)
    {
        List<NamedOnnxValue> feeds;
        using (var so = Int8Bench.Options())
        using (var s = new InferenceSession(fp32, so)) feeds = Feeds(s);
        var files = models.Split(',', StringSplitOptions.RemoveEmptyEntries);
        Console.WriteLine("| round | model | median ms | speed-up vs FP32 (p10–p90; FP32 median) | load average |");
        Console.WriteLine("|---|---|---|---|---|");
        for (int r = 0; r < rounds; r++)
            foreach (var f in files)
            {
                var t = Int8Bench.Time(fp32, f, feeds, runs);
                Console.WriteLine($"| {r + 1} | {Path.GetFileName(f)} | {t.Median:F1} | {t.SpeedUp:F2}× ({t.SpeedUpP10:F2}–{t.SpeedUpP90:F2}; {t.Fp32Median:F1} ms) | {File.ReadAllText("/proc/loadavg").Split(' ')[0]} |");
            }
    }
}
