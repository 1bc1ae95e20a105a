// Decoding speed of a Llama-family decoder with its key/value cache on ONNX Runtime (bench/README.md, "Decoding speed").
//   write DIR SHAPE       a random-weight folder: config.json, model.safetensors (float32), tokenizer.json (byte-level
//                         BPE over synthetic pieces, one per vocabulary id), tokenizer_config.json. SHAPE: tinyllama
//                         (TinyLlama-1.1B: 22 layers, hidden 2048, intermediate 5632, 32/4 heads, vocab 32000),
//                         llama-300m (16 layers, hidden 1024, intermediate 2816, 16/4 heads, vocab 32000),
//                         llama-110m (12 layers, hidden 768, intermediate 2048, 12/4 heads, vocab 32000).
//   time ROUNDS PROMPT NEW THREADS NAME=DIR...
//                         greedy decoding (end-of-sequence ignored) of NEW tokens after a fixed PROMPT-token prompt, the
//                         folders interleaved round by round; per folder the median and quartiles of the decoding
//                         tokens/s, the weight bytes read per token, and those bytes/s against a measured copy bandwidth.
using System.Diagnostics;
using System.Globalization;
using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Generation;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args.Length >= 3 && args[0] == "write") return Write(args[1], args[2]);
if (args.Length >= 6 && args[0] == "time") return Time(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), args[5..]);
Console.Error.WriteLine("usage: DecodeSpeed write DIR tinyllama|llama-300m|llama-110m | time ROUNDS PROMPT NEW THREADS NAME=DIR...");
return 2;

static int Write(string dir, string shape)
{
    var (layers, hidden, intermediate, heads, kv) = shape switch
    {
        "tinyllama" => (22, 2048, 5632, 32, 4),
        "llama-300m" => (16, 1024, 2816, 16, 4),
        "llama-110m" => (12, 768, 2048, 12, 4),
        _ => throw new ArgumentException($"unknown shape {shape}"),
    };
    const int vocab = 32000;
    var config = new JObject
    {
        ["model_type"] = "llama", ["architectures"] = new JArray("LlamaForCausalLM"), ["vocab_size"] = vocab, ["hidden_size"] = hidden,
        ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["num_key_value_heads"] = kv, ["intermediate_size"] = intermediate,
        ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["max_position_embeddings"] = 2048, ["tie_word_embeddings"] = false,
        ["hidden_act"] = "silu", ["attention_bias"] = false, ["mlp_bias"] = false,
    };
    Directory.CreateDirectory(dir);
    manual_seed(11);
    using (var model = ArchitectureRegistry.CreateModel(HuggingFaceConfig.ToSpec(config, "config.json", _ => false)))
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToString());
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), model.NamedTensors().Select(t => (t.Name, t.Tensor.detach())).ToList(),
            new Dictionary<string, string> { ["format"] = "pt" });
        Console.WriteLine($"{dir}: {shape}, {model.ParameterCount():N0} parameters (random weights)");
    }
    var pieces = new JObject();
    for (int i = 0; i < vocab; i++) pieces[i < 94 ? ((char)('!' + i)).ToString() : i == 94 ? "Ġ" : "p" + i.ToString(CultureInfo.InvariantCulture)] = i;
    var tokenizer = new JObject
    {
        ["version"] = "1.0", ["added_tokens"] = new JArray(), ["normalizer"] = null, ["post_processor"] = null,
        ["pre_tokenizer"] = new JObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
        ["decoder"] = new JObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
        ["model"] = new JObject { ["type"] = "BPE", ["vocab"] = pieces, ["merges"] = new JArray(), ["unk_token"] = null, ["byte_fallback"] = false },
    };
    File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToString());
    File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{}");
    return 0;
}

static int Time(int rounds, int promptTokens, int newTokens, int threads, string[] folders)
{
    var runs = folders.Select(f => f.Split('=', 2)).Select(p => (Name: p[0], Path: Path.Combine(p[1], "onnx", "model.onnx"))).ToList();
    var decoders = runs.Select(r => new OrtDecoder(r.Path, threads)).ToList();
    var prompt = Enumerable.Range(0, promptTokens).Select(i => (i * 7919) % 94).ToList();
    var speeds = runs.Select(_ => new List<double>()).ToList();
    var prefill = runs.Select(_ => new List<double>()).ToList();
    List<int>? first = null;
    foreach (var d in decoders) GreedyDecoding.Run(d, prompt, 4, new HashSet<int>(), null);   // warm-up
    for (int round = 0; round < rounds; round++)
        for (int i = 0; i < runs.Count; i++)
        {
            var r = GreedyDecoding.Run(decoders[i], prompt, newTokens, new HashSet<int>(), null);
            speeds[i].Add(r.DecodeTokensPerSecond);
            prefill[i].Add(r.PrefillSeconds * 1000);
            if (i == 0 && first is null) first = r.Tokens.ToList();
        }
    double bandwidth = CopyBandwidth();
    Console.WriteLine($"ONNX Runtime {Compressor.Engine.Onnx.Verification.OnnxVerifier.OrtVersion}, ORT_ENABLE_ALL, {threads} thread(s); prompt {promptTokens}, {newTokens} new tokens, batch 1, {rounds} interleaved rounds");
    Console.WriteLine($"memory copy bandwidth (one thread, 512 MiB memcpy, read + write counted): {bandwidth / 1e9:F2} GB/s");
    Console.WriteLine("| model | model.onnx (+ .data) | prompt ms (median) | decode tokens/s: median [p25, p75] | vs first | weight GB/s at median |");
    Console.WriteLine("|---|---|---|---|---|---|");
    double baseline = Median(speeds[0]);
    for (int i = 0; i < runs.Count; i++)
    {
        long bytes = new FileInfo(runs[i].Path).Length + (File.Exists(runs[i].Path + ".data") ? new FileInfo(runs[i].Path + ".data").Length : 0);
        double median = Median(speeds[i]);
        var ratios = speeds[i].Zip(speeds[0], (a, b) => a / b).ToList();
        Console.WriteLine($"| {runs[i].Name} | {bytes:N0} B | {Median(prefill[i]):F0} | {median:F2} [{Quantile(speeds[i], 0.25):F2}, {Quantile(speeds[i], 0.75):F2}] | " +
                          $"{Median(ratios):F2}× [{Quantile(ratios, 0.25):F2}, {Quantile(ratios, 0.75):F2}] | {bytes * median / 1e9:F2} |");
    }
    foreach (var d in decoders) d.Dispose();
    return 0;
}

static double Median(List<double> v) => Quantile(v, 0.5);

static double Quantile(List<double> v, double q)
{
    var s = v.Order().ToArray();
    double pos = q * (s.Length - 1);
    int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

static double CopyBandwidth()
{
    const long n = 512L << 20;
    var a = new byte[n];
    var b = new byte[n];
    Array.Fill(a, (byte)1);
    Array.Fill(b, (byte)2);
    double best = 0;
    for (int i = 0; i < 3; i++)
    {
        var clock = Stopwatch.StartNew();
        Buffer.BlockCopy(a, 0, b, 0, (int)Math.Min(n, int.MaxValue));
        best = Math.Max(best, 2.0 * n / clock.Elapsed.TotalSeconds);
    }
    return best;
}
