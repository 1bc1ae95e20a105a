// Writes random-weight bfloat16 Hugging Face decoder folders (config.json + model-0000i-of-0000n.safetensors + index,
// shards of at most 1 GB) into OUT (default /tmp/compress-streaming-bench/models), tensor by tensor:
//   tinyllama-1.1b/  the TinyLlama-1.1B shape (22 layers, hidden 2048, intermediate 5632, 32 / 4 heads, vocab 32000)
//   gpt2-124m/       the GPT-2 (124M) shape
//   llama-3b/        the Llama-3.2-3B shape (only with the argument --3b)
// MODELS (space-separated folder names) limits it to those.
using Compressor.Engine.Tests.Support;
using static TorchSharp.torch;

string root = Path.GetFullPath(args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "/tmp/compress-streaming-bench/models");
var folders = new List<(string Name, Newtonsoft.Json.Linq.JObject Config)> { ("gpt2-124m", DecoderFolder.Gpt2()), ("tinyllama-1.1b", DecoderFolder.TinyLlama()) };
if (args.Contains("--3b")) folders.Add(("llama-3b", DecoderFolder.Llama3B()));
// MODELS="gpt2-124m …" (as bench/streaming/run.sh takes it) writes only those folders.
if (Environment.GetEnvironmentVariable("MODELS") is { Length: > 0 } only)
    folders = folders.Where(f => only.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(f.Name)).ToList();
foreach (var (name, config) in folders)
{
    string dir = Path.Combine(root, name);
    if (File.Exists(Path.Combine(dir, "config.json"))) { Console.WriteLine($"{name}/: exists"); continue; }
    var clock = System.Diagnostics.Stopwatch.StartNew();
    var files = DecoderFolder.Write(dir, config, ScalarType.BFloat16, shardBytes: 1_000_000_000);
    Console.WriteLine($"{name}/: {files.Count} shard(s), {files.Sum(f => new FileInfo(f).Length):N0} bytes in {clock.Elapsed.TotalSeconds:F0} s");
}
