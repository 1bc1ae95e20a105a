using Microsoft.ML.OnnxRuntime;
using Newtonsoft.Json.Linq;
using DenseTensorL = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;

namespace OrtLatency;

/// <summary><c>int8 profile --model FILE.onnx</c>: where the time of a model goes (token ids as a MiniLM batch of 8 × 128,
/// float inputs at their declared shape), by operator, from ONNX Runtime's own profiler (SessionOptions.EnableProfiling:
/// per-node kernel times of every run after 3 warm-up runs, summed by op type).</summary>
internal static class Profile
{
    public static void Run(string model, int runs)
    {
        string prefix = Path.Combine(Path.GetTempPath(), "ort-profile-" + Guid.NewGuid().ToString("N"));
        using var so = Int8Bench.Options();
        so.EnableProfiling = true;
        so.ProfileOutputPathPrefix = prefix;
        using var session = new InferenceSession(model, so);
        // Feeds from the declared inputs: token ids (int64) as a MiniLM batch of 8 × 128, float inputs N(0, 1) at their
        // declared shape (a symbolic batch as 8).
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
        File.Delete(file);
    }
}
