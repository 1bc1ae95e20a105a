using Compressor.Engine.Architectures;
using Compressor.Engine.Models;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Checkpoints;

/// <summary>A Hugging Face (or timm) <c>config.json</c> read into a built-in architecture and its sizes:
/// <c>model_type</c> picks the architecture (<c>bert</c>; <c>gpt2</c>; <c>llama</c>, <c>qwen2</c>, <c>mistral</c>),
/// the Hugging Face keys give the sizes (<c>hidden_size</c>, <c>num_hidden_layers</c>, <c>num_attention_heads</c>,
/// <c>num_key_value_heads</c>, <c>head_dim</c>, <c>intermediate_size</c>, <c>rope_theta</c>, <c>rope_scaling</c>,
/// <c>rms_norm_eps</c> / <c>layer_norm_eps</c>, <c>tie_word_embeddings</c>, <c>max_position_embeddings</c>, …); a
/// timm config (an <c>architecture</c> key and no <c>model_type</c>) is a ViT/DeiT whose sizes come from the tensors.
/// Every problem is one line naming the file and the key.</summary>
public static class HuggingFaceConfig
{
    /// <summary>The largest config file read.</summary>
    public const long MaxBytes = 4L << 20;

    /// <summary>The <c>model_type</c>s this version reads.</summary>
    public static readonly IReadOnlyList<string> ModelTypes = ["bert", "gpt2", "llama", "qwen2", "mistral"];

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Unreadable, too large or malformed JSON (kind InvalidInput).</exception>
    public static JObject Read(string path)
    {
        try
        {
            // A regular file only (a FIFO or a device would block or never end), bounded, duplicate keys refused.
            return IO.StrictJson.Object(IO.InputFiles.ReadAllText(path, MaxBytes), maxDepth: 32);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException or InvalidCastException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a valid JSON config ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    /// <summary>Whether <paramref name="config"/> is a timm config (no <c>model_type</c>, an <c>architecture</c>).</summary>
    public static bool IsTimm(JObject config) => config["model_type"] is null && config["architecture"]?.Type == JTokenType.String;

    /// <summary>The architecture spec of a Hugging Face config (not a timm one).</summary>
    /// <param name="config">The parsed config.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <param name="hasTensor">Whether the weights hold a tensor (decides what the config does not say: BERT's pooler).</param>
    /// <exception cref="CompressException">Unknown <c>model_type</c>, a missing or bad key (kind InvalidInput).</exception>
    public static ArchitectureSpec ToSpec(JObject config, string path, Func<string, bool> hasTensor)
    {
        var r = new Keys(config, path);
        string type = r.Text("model_type");
        JObject c;
        string arch;
        switch (type)
        {
            case "bert":
            {
                arch = "bert";
                string position = r.OptionalText("position_embedding_type") ?? "absolute";
                if (position != "absolute") throw r.Bad("position_embedding_type", $"'{position}' is not supported (only 'absolute')");
                c = new JObject
                {
                    ["vocabSize"] = r.Int("vocab_size"), ["hidden"] = r.Int("hidden_size"), ["layers"] = r.Int("num_hidden_layers"),
                    ["heads"] = r.Int("num_attention_heads"), ["intermediate"] = r.Int("intermediate_size"),
                    ["maxPositions"] = r.OptionalInt("max_position_embeddings") ?? 512, ["typeVocabSize"] = r.OptionalInt("type_vocab_size") ?? 2,
                    ["layerNormEps"] = r.OptionalNumber("layer_norm_eps") ?? 1e-12, ["hiddenAct"] = r.Choice("hidden_act", "gelu", BertArchitecture.Activations),
                    ["pooler"] = hasTensor("pooler.dense.weight") || hasTensor("bert.pooler.dense.weight"),
                };
                break;
            }
            case "gpt2":
            {
                arch = "gpt";
                int dim = r.Int("n_embd");
                r.Choice("activation_function", "gelu_new", ["gelu_new", "gelu_pytorch_tanh"]);
                c = new JObject
                {
                    ["vocabSize"] = r.Int("vocab_size"), ["context"] = r.Int("n_positions"), ["dim"] = dim, ["layers"] = r.Int("n_layer"),
                    ["heads"] = r.Int("n_head"), ["mlpRatio"] = 4, ["inner"] = r.OptionalInt("n_inner") ?? 4 * dim,
                    ["layerNormEps"] = r.OptionalNumber("layer_norm_epsilon") ?? 1e-5,
                };
                break;
            }
            case "llama" or "qwen2" or "mistral":
            {
                arch = "llama";
                int heads = r.Int("num_attention_heads");
                bool attentionBias = type == "llama" && (r.OptionalBool("attention_bias") ?? false);
                r.Choice("hidden_act", "silu", ["silu"]);
                int window = type == "mistral" ? r.OptionalInt("sliding_window") ?? 0 : 0;
                if (type == "qwen2" && (r.OptionalBool("use_sliding_window") ?? false))
                    throw r.Bad("use_sliding_window", "true is not supported");
                c = new JObject
                {
                    ["family"] = type, ["vocabSize"] = r.Int("vocab_size"), ["hidden"] = r.Int("hidden_size"), ["layers"] = r.Int("num_hidden_layers"),
                    ["heads"] = heads, ["kvHeads"] = r.OptionalInt("num_key_value_heads") ?? heads, ["headDim"] = r.OptionalInt("head_dim") ?? 0,
                    ["intermediate"] = r.Int("intermediate_size"), ["rmsNormEps"] = r.OptionalNumber("rms_norm_eps") ?? 1e-6,
                    ["ropeTheta"] = r.OptionalNumber("rope_theta") ?? 10000.0,
                    ["ropeScaling"] = config["rope_scaling"] is JObject s ? s.DeepClone() : null,
                    ["maxPositions"] = r.OptionalInt("max_position_embeddings") ?? 2048, ["tieEmbeddings"] = r.OptionalBool("tie_word_embeddings") ?? false,
                    ["attentionBias"] = type == "qwen2" || attentionBias, ["outputBias"] = attentionBias, ["mlpBias"] = type == "llama" && (r.OptionalBool("mlp_bias") ?? false),
                    ["slidingWindow"] = window,
                };
                if (config["rope_scaling"] is { Type: not JTokenType.Null and not JTokenType.Object })
                    throw r.Bad("rope_scaling", "must be an object or null");
                break;
            }
            default:
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: model_type '{type}' is not supported (supported: {string.Join(", ", ModelTypes)}; timm ViT/DeiT configs name an 'architecture')");
        }
        try { return ArchitectureRegistry.Spec(arch, c); }
        catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: {e.Message}");
        }
    }

    /// <summary>Typed reads of the config's keys with one-line errors naming the file and the key.</summary>
    private sealed class Keys(JObject config, string path)
    {
        public CompressException Bad(string key, string what) => new(ErrorKind.InvalidInput, $"{path}: '{key}' {what}");

        public string Text(string key) => config[key] is { Type: JTokenType.String } t ? (string)t! : throw Bad(key, config[key] is null ? "is missing" : "must be a string");

        public string? OptionalText(string key) => config[key] is null or { Type: JTokenType.Null } ? null : Text(key);

        public int Int(string key) => OptionalInt(key) ?? throw Bad(key, "is missing");

        public int? OptionalInt(string key)
        {
            var t = config[key];
            if (t is null || t.Type == JTokenType.Null) return null;
            if (t.Type != JTokenType.Integer || (long)t < 0 || (long)t > int.MaxValue) throw Bad(key, "must be a non-negative integer");
            return (int)(long)t;
        }

        public double? OptionalNumber(string key)
        {
            var t = config[key];
            if (t is null || t.Type == JTokenType.Null) return null;
            if (t.Type is not (JTokenType.Float or JTokenType.Integer)) throw Bad(key, "must be a number");
            return (double)t;
        }

        public bool? OptionalBool(string key)
        {
            var t = config[key];
            if (t is null || t.Type == JTokenType.Null) return null;
            if (t.Type != JTokenType.Boolean) throw Bad(key, "must be true or false");
            return (bool)t;
        }

        public string Choice(string key, string fallback, string[] allowed)
        {
            string v = OptionalText(key) ?? fallback;
            return allowed.Contains(v) ? v : throw Bad(key, $"'{v}' is not supported (supported: {string.Join(", ", allowed)})");
        }
    }
}
