using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Support;

/// <summary>Writes all-MiniLM-L6-v2 as a Hugging Face model folder from the initializers of the real ONNX model (the
/// sentence-transformers package's PyTorch 1.10 export): named initializers keep their names (embeddings, LayerNorms,
/// biases, pooler); each anonymous MatMul weight [in, out] becomes <c>X.weight</c> [out, in] of the bias <c>X.bias</c>
/// that the MatMul's Add adds. Beside them: config.json with all-MiniLM-L6-v2's published config, vocab.txt, and a
/// tokenizer.json / tokenizer_config.json describing its uncased WordPiece tokenizer as the tokenizers library writes them.</summary>
internal static class MiniLmFolder
{
    public static string Write(string directory)
    {
        var files = PretrainedModels.MiniLm();
        Directory.CreateDirectory(directory);
        using var reader = OnnxCheckpointReader.Open(files.ModelPath);
        var graph = reader.Model.Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var producer = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n, StringComparer.Ordinal);
        var weights = new List<(string, Tensor)>();
        foreach (var add in graph.Node.Where(n => n.OpType == "Add"))
        {
            string? bias = add.Input.FirstOrDefault(i => init.ContainsKey(i) && i.EndsWith(".bias", StringComparison.Ordinal));
            string? other = add.Input.FirstOrDefault(i => i != bias);
            if (bias is null || other is null || !producer.TryGetValue(other, out var mm) || mm.OpType != "MatMul") continue;
            string? w = mm.Input.FirstOrDefault(init.ContainsKey);
            if (w is null) continue;
            using var t = reader.Read(w);
            weights.Add((bias[..^".bias".Length] + ".weight", t.t().contiguous()));
        }
        foreach (var e in reader.Tensors.Where(e => e.Name.Contains('.', StringComparison.Ordinal) && e.Name != "embeddings.position_ids"))
            weights.Add((e.Name, reader.Read(e.Name)));
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), weights, new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var (_, t) in weights) t.Dispose();

        File.WriteAllText(Path.Combine(directory, "config.json"), new JObject
        {
            ["architectures"] = new JArray("BertModel"), ["model_type"] = "bert", ["vocab_size"] = 30522, ["hidden_size"] = 384,
            ["num_hidden_layers"] = 6, ["num_attention_heads"] = 12, ["intermediate_size"] = 1536, ["hidden_act"] = "gelu",
            ["max_position_embeddings"] = 512, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12, ["position_embedding_type"] = "absolute",
            ["pad_token_id"] = 0, ["hidden_dropout_prob"] = 0.1, ["attention_probs_dropout_prob"] = 0.1, ["initializer_range"] = 0.02,
        }.ToString());
        File.Copy(files.VocabPath, Path.Combine(directory, "vocab.txt"), overwrite: true);
        var vocab = new JObject();
        int id = 0;
        foreach (var token in File.ReadLines(files.VocabPath)) vocab[token] = id++;
        JObject Special(int i, string content) => new()
        {
            ["id"] = i, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        };
        var tokenizer = new JObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JArray(Special(0, "[PAD]"), Special(100, "[UNK]"), Special(101, "[CLS]"), Special(102, "[SEP]"), Special(103, "[MASK]")),
            ["normalizer"] = new JObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = true },
            ["pre_tokenizer"] = new JObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JArray(Piece("[CLS]", 0, special: true), Piece("A", 0, special: false), Piece("[SEP]", 0, special: true)),
                ["pair"] = new JArray(Piece("[CLS]", 0, special: true), Piece("A", 0, special: false), Piece("[SEP]", 0, special: true),
                    Piece("B", 1, special: false), Piece("[SEP]", 1, special: true)),
                ["special_tokens"] = new JObject
                {
                    ["[CLS]"] = new JObject { ["id"] = "[CLS]", ["ids"] = new JArray(101), ["tokens"] = new JArray("[CLS]") },
                    ["[SEP]"] = new JObject { ["id"] = "[SEP]", ["ids"] = new JArray(102), ["tokens"] = new JArray("[SEP]") },
                },
            },
            ["decoder"] = new JObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToString(Newtonsoft.Json.Formatting.None));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), new JObject
        {
            ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = true, ["model_max_length"] = 512, ["cls_token"] = "[CLS]", ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]", ["unk_token"] = "[UNK]", ["mask_token"] = "[MASK]", ["tokenize_chinese_chars"] = true, ["strip_accents"] = null,
        }.ToString());
        return directory;

        static JObject Piece(string name, int typeId, bool special) => special
            ? new JObject { ["SpecialToken"] = new JObject { ["id"] = name, ["type_id"] = typeId } }
            : new JObject { ["Sequence"] = new JObject { ["id"] = name, ["type_id"] = typeId } };
    }
}
