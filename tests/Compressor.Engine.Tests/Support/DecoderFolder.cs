using System.Globalization;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Memory;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Support;

/// <summary>Writes a Hugging Face decoder folder (GPT-2 or Llama family) with random weights, tensor by tensor, so that
/// a model larger than memory can be written: <c>config.json</c>, then the weights in the ecosystem's layout (GPT-2's
/// Conv1D [in, out] weights, names without <c>transformer.</c>) and dtype, in shards <c>model-0000i-of-0000n.safetensors</c>
/// with a <c>model.safetensors.index.json</c> (or one <c>model.safetensors</c> when everything fits one shard). Values:
/// norm weights 1, biases 0, the rest normal(0, 0.02) from a generator seeded per tensor, so a folder depends only on
/// its config, dtype and seed. Used by the streaming tests and by bench/streaming.</summary>
public static class DecoderFolder
{
    /// <summary>TinyLlama-1.1B's shape (22 layers, hidden 2048, intermediate 5632, 32 heads / 4 KV heads, vocab 32000).</summary>
    public static JObject TinyLlama() => new()
    {
        ["model_type"] = "llama", ["architectures"] = new JArray("LlamaForCausalLM"), ["vocab_size"] = 32000, ["hidden_size"] = 2048,
        ["num_hidden_layers"] = 22, ["num_attention_heads"] = 32, ["num_key_value_heads"] = 4, ["intermediate_size"] = 5632,
        ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["max_position_embeddings"] = 2048, ["tie_word_embeddings"] = false,
        ["hidden_act"] = "silu", ["torch_dtype"] = "bfloat16",
    };

    /// <summary>Llama-3.2-3B's shape (28 layers, hidden 3072, intermediate 8192, 24 heads / 8 KV heads, vocab 128256, tied).</summary>
    public static JObject Llama3B() => new()
    {
        ["model_type"] = "llama", ["architectures"] = new JArray("LlamaForCausalLM"), ["vocab_size"] = 128256, ["hidden_size"] = 3072,
        ["num_hidden_layers"] = 28, ["num_attention_heads"] = 24, ["num_key_value_heads"] = 8, ["intermediate_size"] = 8192, ["head_dim"] = 128,
        ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = 4096, ["tie_word_embeddings"] = true,
        ["hidden_act"] = "silu", ["torch_dtype"] = "bfloat16",
    };

    /// <summary>GPT-2 (124M)'s shape.</summary>
    public static JObject Gpt2() => new()
    {
        ["model_type"] = "gpt2", ["architectures"] = new JArray("GPT2LMHeadModel"), ["vocab_size"] = 50257, ["n_positions"] = 1024, ["n_embd"] = 768,
        ["n_layer"] = 12, ["n_head"] = 12, ["torch_dtype"] = "bfloat16",
    };

    /// <summary>A tiny Llama (3 layers, hidden 64, GQA 4/2) for tests.</summary>
    public static JObject TinyLlamaForTests(int layers = 3) => new()
    {
        ["model_type"] = "llama", ["vocab_size"] = 96, ["hidden_size"] = 64, ["num_hidden_layers"] = layers, ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2, ["intermediate_size"] = 96, ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["max_position_embeddings"] = 64,
        ["tie_word_embeddings"] = false, ["hidden_act"] = "silu", ["torch_dtype"] = "bfloat16",
    };

    /// <summary>A tiny GPT-2 (3 layers, width 64) for tests.</summary>
    public static JObject TinyGpt2ForTests(int layers = 3) => new()
    {
        ["model_type"] = "gpt2", ["vocab_size"] = 96, ["n_positions"] = 64, ["n_embd"] = 64, ["n_layer"] = layers, ["n_head"] = 4, ["torch_dtype"] = "bfloat16",
    };

    /// <summary>Writes the folder <paramref name="dir"/> of <paramref name="config"/> in <paramref name="dtype"/> with
    /// shards of at most <paramref name="shardBytes"/> (a tensor larger than that gets a shard of its own). Returns the
    /// weight files written.</summary>
    public static IReadOnlyList<string> Write(string dir, JObject config, ScalarType dtype = ScalarType.BFloat16, long shardBytes = 1L << 30, int seed = 7)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, ModelFolder.ConfigFile), config.ToString());
        var spec = HuggingFaceConfig.ToSpec(config, "config.json", _ => false);
        bool gpt2 = spec.Name == "gpt";
        List<(string Name, long[] Shape)> tensors;
        using (MetaDevice.Scope())
        using (var declared = ArchitectureRegistry.CreateModel(spec))
            tensors = declared.NamedTensors().Select(t => (t.Name, t.Tensor.shape)).ToList();
        bool Conv1d(string n) => gpt2 && n.EndsWith(".weight", StringComparison.Ordinal) && (n.Contains(".c_attn.") || n.Contains(".c_proj.") || n.Contains(".c_fc."));
        var file = tensors.Select(t => (Name: gpt2 ? t.Name["transformer.".Length..] : t.Name, Shape: Conv1d(t.Name) ? [t.Shape[1], t.Shape[0]] : t.Shape, Module: t.Name)).ToList();
        int size = TensorDType.SizeOf(dtype);
        var shards = new List<List<int>>();
        long current = long.MaxValue;
        for (int i = 0; i < file.Count; i++)
        {
            long bytes = file[i].Shape.Aggregate((long)size, (a, b) => a * b);
            if (current + bytes > shardBytes || shards.Count == 0) { shards.Add([]); current = 0; }
            shards[^1].Add(i);
            current += bytes;
        }
        Tensor Value(int i)
        {
            var (name, shape, module) = file[i];
            using var g = new Generator((ulong)(seed * 100_003L + i));
            using var f = module.EndsWith("norm.weight", StringComparison.Ordinal) || module.Contains(".ln_", StringComparison.Ordinal) || module.EndsWith("ln_f.weight", StringComparison.Ordinal)
                ? (module.EndsWith(".bias", StringComparison.Ordinal) ? zeros(shape) : ones(shape))
                : module.EndsWith(".bias", StringComparison.Ordinal) ? zeros(shape) : normal(0, 0.02, shape, generator: g);
            return f.to_type(dtype);
        }
        var written = new List<string>();
        var map = new JObject();
        long total = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            string name = shards.Count == 1 ? "model.safetensors"
                : string.Create(CultureInfo.InvariantCulture, $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors");
            var members = shards[s];
            SafetensorsWriter.Write(Path.Combine(dir, name), members.Select(i => (file[i].Name, dtype, file[i].Shape)).ToList(),
                new Dictionary<string, string> { ["format"] = "pt" }, k => Value(members[k]));
            foreach (var i in members)
            {
                map[file[i].Name] = name;
                total += file[i].Shape.Aggregate((long)size, (a, b) => a * b);
            }
            written.Add(Path.Combine(dir, name));
        }
        if (shards.Count > 1)
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                new JObject { ["metadata"] = new JObject { ["total_size"] = total }, ["weight_map"] = map }.ToString());
        return written;
    }
}
