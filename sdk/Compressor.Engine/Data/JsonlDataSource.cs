using System.Text;
using Compressor.Sdk.Data;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Texts from a JSON-lines file (<c>jsonl:FILE[,field=text][,tokenizer=PATH][,context=T][,task=lm|encoder]</c>):
/// one JSON object per line, its <c>field</c> (default <c>text</c>) a string; tokenized with the model folder's own
/// <c>tokenizer.json</c> (or <c>tokenizer=PATH</c>, see <see cref="HuggingFaceTokenizer"/>). For an encoder's tokenizer
/// (WordPiece) or <c>task=encoder</c>: one row per text, [CLS] … [SEP] truncated to <c>context</c> (default 128, [SEP]
/// kept last) and padded with the pad id (attention mask = ids ≠ pad), no targets, a seeded validation hold-out. For a
/// language model's (BPE / SentencePiece) or <c>task=lm</c>: the texts joined into one stream (separated by the
/// end-of-text token when the tokenizer has one), the last <c>validation</c> fraction held out by position, windows of
/// <c>context</c> + 1 tokens (inputs the first T, targets the last T).</summary>
public static class JsonlDataSource
{
    /// <summary>Opens the file; <paramref name="modelFolder"/> supplies the tokenizer when the spec names none.</summary>
    public static DataSplits Open(DataSpec spec, int seed, string? modelFolder)
    {
        string path = spec.Path!;
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"--data jsonl:{path}: no such file");
        if (IO.InputFiles.RequireRegular(path) > TextDataSource.MaxBytes) throw new CompressException(ErrorKind.InvalidInput, $"{path}: larger than {TextDataSource.MaxBytes >> 20} MiB");
        string field = spec.Options.TryGetValue("field", out var f) ? f : "text";
        string? tokenizerPath = spec.Options.TryGetValue("tokenizer", out var t) ? t : modelFolder;
        if (tokenizerPath is null)
            throw new CompressException(ErrorKind.InvalidOptions, $"--data jsonl:{path}: texts need a tokenizer: give a model folder with tokenizer.json, or ,tokenizer=PATH");
        var tokenizer = HuggingFaceTokenizer.Load(tokenizerPath);
        var texts = Read(path, field);
        string task = spec.Choice("task", tokenizer.IsEncoder ? "encoder" : "lm", "lm", "encoder");
        int context = spec.Int("context", 128, 2, 1 << 16);
        string name = $"jsonl:{Path.GetFileName(path)}";
        if (task == "encoder")
        {
            var ids = new long[texts.Count * context];
            if (tokenizer.PadId != 0) Array.Fill(ids, tokenizer.PadId);
            for (int i = 0; i < texts.Count; i++)
            {
                var tokens = tokenizer.Encode(texts[i]);
                int n = Math.Min(tokens.Count, context);
                for (int j = 0; j < n; j++) ids[i * context + j] = tokens[j];
                if (tokens.Count > context && tokenizer.IsEncoder) ids[i * context + context - 1] = tokens[^1];   // keep [SEP] last
            }
            var all = new TensorDataSet(name, tensor(ids).reshape(texts.Count, context), null);
            return ShuffledSplits.Of(all, spec, seed, new DataInfo(name, DataKind.Sentences, [context], 0, tokenizer.VocabularySize, tokenizer.Kind), 64);
        }
        var stream = new List<int>();
        foreach (var text in texts)
        {
            stream.AddRange(tokenizer.Encode(text));
            if (tokenizer.EndOfText is { } eot) stream.Add(eot);
        }
        double validation = spec.Fraction("validation", 0.1);
        int split = (int)(stream.Count * (1 - validation));
        if (split / (context + 1) < 1 || (stream.Count - split) / (context + 1) < 1)
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: {stream.Count} tokens are too few for context {context} with a {validation:P0} validation split");
        var ids2 = stream.ToArray();
        var train = TextDataSource.Windows(ids2.AsSpan(0, split), context, name + "/train");
        var eval = TextDataSource.Windows(ids2.AsSpan(split), context, name + "/validation");
        long[] order = Enumerable.Range(0, (int)train.Count).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        var calib = train.Subset(name + "/calibration", order.Take(spec.Int("calibration", 64, 1, 100_000)).ToArray());
        return new DataSplits(new DataInfo(name, DataKind.Tokens, [context], 0, tokenizer.VocabularySize, tokenizer.Kind), train, calib, eval);
    }

    /// <summary>The string <paramref name="field"/> of every non-empty line.</summary>
    /// <exception cref="CompressException">A line that is not a JSON object with that string field (naming the line).</exception>
    public static List<string> Read(string path, string field)
    {
        var texts = new List<string>();
        int number = 0;
        try
        {
            foreach (var line in File.ReadLines(path, new UTF8Encoding(false, true)))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                JObject o;
                try
                {
                    o = IO.StrictJson.Object(line, maxDepth: 32);   // a key given twice is refused
                }
                catch (Exception e) when (e is JsonException or InvalidCastException)
                {
                    throw new CompressException(ErrorKind.InvalidInput, $"{path}:{number}: not a JSON object ({e.Message.Split('\n')[0].Trim()})");
                }
                if (o[field] is not { Type: JTokenType.String } value)
                    throw new CompressException(ErrorKind.InvalidInput, $"{path}:{number}: field '{field}' is {(o[field] is null ? "missing" : "not a string")}");
                texts.Add((string)value!);
            }
        }
        catch (DecoderFallbackException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}:{number + 1}: not valid UTF-8");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read ({e.Message})");
        }
        if (texts.Count < 2) throw new CompressException(ErrorKind.InvalidInput, $"{path}: {texts.Count} text(s); at least 2 are needed to split");
        return texts;
    }
}
