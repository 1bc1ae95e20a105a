using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Data;

/// <summary>A model folder's own tokenizer, read from its <c>tokenizer.json</c> (the Hugging Face tokenizers format)
/// into Microsoft.ML.Tokenizers: <c>WordPiece</c> models (BERT, MiniLM) as a BERT tokenizer with the normalizer's
/// lower-casing and [CLS] … [SEP] around each text; byte-level <c>BPE</c> models (GPT-2, Llama 3, Qwen2: a
/// <c>ByteLevel</c> pre-tokenizer or decoder) as a byte-level BPE tokenizer over the file's vocabulary and merges,
/// split by the file's <c>Split</c> regex or GPT-2's; SentencePiece models (Llama 2, Mistral: <c>Metaspace</c>) from the
/// folder's <c>tokenizer.model</c>. Anything else is refused in one line naming the file and the field.</summary>
public sealed class HuggingFaceTokenizer
{
    /// <summary>The largest tokenizer.json read.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>GPT-2's pre-tokenization regex (the tokenizers library's ByteLevel default).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private HuggingFaceTokenizer(Tokenizer tokenizer, string kind, bool encoder, int padId, int? endOfText, int vocabulary)
    {
        Special = new HashSet<int>();
        Tokenizer = tokenizer;
        Kind = kind;
        IsEncoder = encoder;
        PadId = padId;
        EndOfText = endOfText;
        VocabularySize = vocabulary;
    }

    /// <summary>The tokenizer.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary><c>wordpiece</c>, <c>bpe-bytelevel</c> or <c>sentencepiece</c>.</summary>
    public string Kind { get; }

    /// <summary>Whether it is an encoder's tokenizer (WordPiece: texts become padded [CLS] … [SEP] rows).</summary>
    public bool IsEncoder { get; }

    /// <summary>The padding id (0 for BERT's [PAD]).</summary>
    public int PadId { get; }

    /// <summary>The end-of-text token that separates documents in a language-model stream, when the file names one.</summary>
    public int? EndOfText { get; }

    /// <summary>Tokens in the vocabulary (added tokens included).</summary>
    public int VocabularySize { get; }

    /// <summary>The ids of the added tokens marked <c>special</c> (left out by <see cref="Decode"/>).</summary>
    public IReadOnlySet<int> Special { get; private set; }

    /// <summary>The ids the file's <c>TemplateProcessing</c> post-processor puts before and after a single text (Llama's
    /// <c>&lt;s&gt;</c>, Llama 3's <c>&lt;|begin_of_text|&gt;</c>); empty when it has none.</summary>
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Template { get; private set; } = ([], []);

    /// <summary>The ids of a prompt as the model folder's own tokenizer gives them to a generating model (Hugging Face's
    /// <c>add_special_tokens</c>): <see cref="Encode"/> inside the post-processor's template.</summary>
    public IReadOnlyList<int> EncodePrompt(string text) =>
        IsEncoder ? Encode(text) : [.. Template.Before, .. Encode(text), .. Template.After];

    /// <summary>The text of <paramref name="ids"/>, special tokens left out (as Hugging Face's
    /// <c>skip_special_tokens</c>).</summary>
    public string Decode(IEnumerable<int> ids) => Tokenizer.Decode(ids.Where(i => !Special.Contains(i))) ?? "";

    /// <summary>The ids of <paramref name="text"/> (with [CLS]/[SEP] for an encoder's tokenizer).</summary>
    public IReadOnlyList<int> Encode(string text) => Tokenizer is BertTokenizer bert ? bert.EncodeToIds(text, addSpecialTokens: true) : Tokenizer.EncodeToIds(text);

    /// <summary>Reads <paramref name="path"/> (a tokenizer.json, or a folder holding one).</summary>
    /// <exception cref="CompressException">Missing, unreadable or unsupported tokenizer (kind InvalidInput).</exception>
    public static HuggingFaceTokenizer Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "tokenizer.json");
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no such tokenizer file");
        JObject json;
        try
        {
            // A regular file only, bounded on the bytes read, duplicate keys refused.
            json = IO.StrictJson.Object(IO.InputFiles.ReadAllText(path, MaxBytes), maxDepth: 64);
        }
        catch (Exception e) when (e is JsonException or IOException or DecoderFallbackException or InvalidCastException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a readable tokenizer.json ({e.Message.Split('\n')[0].Trim()})");
        }
        CompressException Bad(string field, string why) => new(ErrorKind.InvalidInput, $"{path}: '{field}' {why}");
        if (json["model"] is not JObject model) throw Bad("model", "is missing");
        return Load(json, model, path);
    }

    private static HuggingFaceTokenizer Load(JObject json, JObject model, string path)
    {
        string type = (string?)model["type"] ?? (model["merges"] is not null ? "BPE" : model["vocab"] is JObject ? "WordPiece" : "");
        var added = (json["added_tokens"] as JArray ?? []).OfType<JObject>()
            .Where(t => t["content"]?.Type == JTokenType.String && t["id"]?.Type == JTokenType.Integer)
            .ToDictionary(t => (string)t["content"]!, t => (int)t["id"]!, StringComparer.Ordinal);
        var special = (json["added_tokens"] as JArray ?? []).OfType<JObject>()
            .Where(t => t["id"]?.Type == JTokenType.Integer && t["special"]?.Type == JTokenType.Boolean && (bool)t["special"]!)
            .Select(t => (int)t["id"]!).ToHashSet();
        var template = ReadTemplate(json["post_processor"], path);
        var result = Build(json, model, type, added, path);
        result.Special = special;
        result.Template = template;
        return result;
    }

    /// <summary>The special-token ids around a single text in a <c>TemplateProcessing</c> post-processor (alone or in a
    /// <c>Sequence</c>).</summary>
    private static (IReadOnlyList<int> Before, IReadOnlyList<int> After) ReadTemplate(JToken? processor, string path)
    {
        if (processor is JObject { } seq && (string?)seq["type"] == "Sequence")
        {
            foreach (var p in seq["processors"] as JArray ?? [])
                if (ReadTemplate(p, path) is { } t && (t.Before.Count > 0 || t.After.Count > 0)) return t;
            return ([], []);
        }
        if (processor is not JObject o || (string?)o["type"] != "TemplateProcessing" || o["single"] is not JArray single) return ([], []);
        List<int> before = [], after = [];
        bool seen = false;
        foreach (var item in single.OfType<JObject>())
        {
            if (item["Sequence"] is not null) { seen = true; continue; }
            if ((string?)item["SpecialToken"]?["id"] is not { } name) continue;
            if (o["special_tokens"]?[name]?["ids"] is not JArray ids || ids.Any(i => i.Type != JTokenType.Integer))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: 'post_processor.special_tokens.{name}.ids' must be an array of ids");
            (seen ? after : before).AddRange(ids.Select(i => (int)i));
        }
        return (before, after);
    }

    private static HuggingFaceTokenizer Build(JObject json, JObject model, string type, Dictionary<string, int> added, string path)
    {
        CompressException Bad(string field, string why) => new(ErrorKind.InvalidInput, $"{path}: '{field}' {why}");
        try
        {
            switch (type)
            {
                case "WordPiece":
                {
                    if (model["vocab"] is not JObject vocab) throw Bad("model.vocab", "must be an object of token → id");
                    var ordered = vocab.Properties().OrderBy(p => (int)p.Value).ToList();
                    if (ordered.Select((p, i) => (int)p.Value != i).Any(x => x)) throw Bad("model.vocab", "ids must run 0 … N−1");
                    bool lower = json["normalizer"]?["lowercase"]?.Type != JTokenType.Boolean || (bool)json["normalizer"]!["lowercase"]!;
                    using var stream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", ordered.Select(p => p.Name)) + "\n"));
                    var bert = BertTokenizer.Create(stream, new BertOptions { LowerCaseBeforeTokenization = lower });
                    int pad = vocab["[PAD]"] is { Type: JTokenType.Integer } p ? (int)p : 0;
                    return new HuggingFaceTokenizer(bert, "wordpiece", encoder: true, pad, null, ordered.Count);
                }
                case "BPE" when IsByteLevel(json):
                {
                    if (model["vocab"] is not JObject vocab) throw Bad("model.vocab", "must be an object of token → id");
                    if (model["merges"] is not JArray mergeArray) throw Bad("model.merges", "must be an array");
                    var merges = mergeArray.Select(m => m switch
                    {
                        JValue { Type: JTokenType.String } s => (string)s!,
                        JArray { Count: 2 } pair => $"{(string?)pair[0]} {(string?)pair[1]}",
                        _ => throw Bad("model.merges", "must hold \"a b\" strings or [a, b] pairs"),
                    }).ToList();
                    var pairs = vocab.Properties().Select(p => new KeyValuePair<string, int>(p.Name, (int)p.Value)).ToList();
                    string pattern = SplitPattern(json["pre_tokenizer"]) ?? Gpt2Pattern;
                    var options = new BpeOptions(pairs)
                    {
                        Merges = merges, ByteLevel = true, SpecialTokens = added.Count == 0 ? null : added,
                        PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), added.Count == 0 ? null : added),
                    };
                    int? eos = added.TryGetValue("<|endoftext|>", out var e1) ? e1 : added.TryGetValue("<|end_of_text|>", out var e2) ? e2 : null;
                    int size = Math.Max(pairs.Max(p => p.Value), added.Count == 0 ? 0 : added.Values.Max()) + 1;
                    return new HuggingFaceTokenizer(BpeTokenizer.Create(options), "bpe-bytelevel", encoder: false, eos ?? 0, eos, size);
                }
                case "BPE" or "Unigram":
                {
                    string sp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.model");
                    if (!File.Exists(sp))
                        throw Bad("model.type", $"'{type}' without a byte-level pre-tokenizer is a SentencePiece model: its tokenizer.model must be beside it");
                    using var stream = IO.InputFiles.OpenRead(sp);
                    var llama = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
                    int? eos = added.TryGetValue("</s>", out var e) ? e : null;
                    return new HuggingFaceTokenizer(llama, "sentencepiece", encoder: false, eos ?? 0, eos, Math.Max(llama.Vocabulary.Count, added.Count == 0 ? 0 : added.Values.Max() + 1));
                }
                default:
                    throw Bad("model.type", $"'{type}' is not supported (WordPiece, byte-level BPE, SentencePiece with tokenizer.model)");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or InvalidCastException or OverflowException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot build the tokenizer ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    private static bool IsByteLevel(JObject json)
    {
        static bool Has(JToken? t) => t switch
        {
            JObject o when (string?)o["type"] == "ByteLevel" => true,
            JObject o => Has(o["pretokenizers"]) || Has(o["decoders"]),
            JArray a => a.Any(Has),
            _ => false,
        };
        return Has(json["pre_tokenizer"]) || Has(json["decoder"]);
    }

    /// <summary>The regex of a <c>Split</c> pre-tokenizer (alone or in a sequence), or null.</summary>
    private static string? SplitPattern(JToken? t) => t switch
    {
        JObject o when (string?)o["type"] == "Split" => (string?)o["pattern"]?["Regex"],
        JObject o => SplitPattern(o["pretokenizers"]),
        JArray a => a.Select(SplitPattern).FirstOrDefault(p => p is not null),
        _ => null,
    };
}
