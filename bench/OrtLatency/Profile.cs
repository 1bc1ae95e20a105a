using Microsoft.ML.OnnxRuntime;
using Newtonsoft.Json.Linq;
using DenseTensorL = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;

namespace OrtLatency;

/// <summary><c>int8 profile --model FILE.onnx</c>: where the time of a MiniLM-shaped model (input_ids, attention_mask,
/// token_type_ids; batch 8 × 128) goes, by operator, from ONNX Runtime's own profiler (SessionOptions.EnableProfiling:
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
        var g = new Random(0);
        int[] shape = [8, 128];
        var ids = Enumerable.Range(0, 1024).Select(_ => (long)g.Next(1000, 30000)).ToArray();
        var feeds = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensorL(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensorL(Enumerable.Repeat(1L, 1024).ToArray(), shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensorL(new long[1024], shape)),
        };
        for (int i = 0; i < 3 + runs; i++) using (session.Run(feeds)) { }
        string file = session.EndProfiling();
        var events = JArray.Parse(File.ReadAllText(file)).Cast<JObject>()
            .Where(e => (string?)e["cat"] == "Node" && ((string?)e["name"])?.EndsWith("_kernel_time") == true).ToList();
        // The first 3 runs are warm-up: keep the last `runs` occurrences of each node.
        var byNode = events.GroupBy(e => (string)e["name"]!).SelectMany(g => g.Skip(Math.Max(0, g.Count() - runs)));
        var byOp = byNode.GroupBy(e => (string?)e["args"]?["op_name"] ?? "?").Select(g => (Op: g.Key, Us: g.Sum(e => (double)e["dur"]!) / runs, Nodes: g.Count() / runs))
            .OrderByDescending(x => x.Us).ToList();
        double total = byOp.Sum(x => x.Us);
        Console.WriteLine($"{Path.GetFileName(model)}: {total / 1000:F1} ms of kernel time per run (8 × 128 tokens, {runs} runs)");
        Console.WriteLine();
        Console.WriteLine("| operator | nodes | ms per run | share |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (op, us, nodes) in byOp.Take(16)) Console.WriteLine($"| {op} | {nodes} | {us / 1000:F2} | {us / total:P1} |");
        File.Delete(file);
    }
}
