using Compressor.Sdk.Data;
using System.Text.RegularExpressions;
using Compressor.Engine.Models.Pretrained;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Sentences for encoders (<c>sentences:FILE</c>): the text is split into sentences (line breaks and
/// sentence-ending punctuation; sentences of fewer than 3 words are dropped), tokenized with a lower-casing BERT
/// WordPiece tokenizer — MiniLM's 30,522-token vocabulary by default, or <c>vocab=PATH</c> — as [CLS] … [SEP],
/// truncated to <c>context</c> tokens (default 128) and padded with id 0 ([PAD]). Inputs are token ids [N, T]
/// (int64; the attention mask is ids ≠ 0, token types 0); there are no targets. A seeded shuffle holds out
/// <c>validation</c> (default 0.1) for evaluation.</summary>
public static partial class SentenceDataSource
{
    [GeneratedRegex(@"(?<=[.!?])\s+|\r?\n\s*\r?\n|\r?\n", RegexOptions.CultureInvariant)]
    private static partial Regex SentenceBreak();

    /// <summary>Opens the file.</summary>
    public static DataSplits Open(DataSpec spec, int seed)
    {
        string path = spec.Path!;
        int context = spec.Int("context", 128, 4, 4096);
        double validation = spec.Fraction("validation", 0.1);
        if (!File.Exists(path) && !Directory.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"--data sentences:{path}: no such file");
        string text = IO.InputFiles.ReadAllText(path, TextDataSource.MaxBytes);
        string vocab = spec.Options.TryGetValue("vocab", out var v) ? v : PretrainedModels.MiniLm().VocabPath;
        if (!File.Exists(vocab) && !Directory.Exists(vocab)) throw new CompressException(ErrorKind.InvalidInput, $"--data: vocabulary {vocab} not found");
        var (tokenizer, vocabularySize) = Vocabulary(vocab);
        var sentences = Split(text).ToList();
        if (sentences.Count < 10) throw new CompressException(ErrorKind.InvalidInput, $"{path}: only {sentences.Count} sentences of 3 or more words");
        var ids = new long[sentences.Count * context];
        for (int i = 0; i < sentences.Count; i++)
        {
            var tokens = tokenizer.EncodeToIds(sentences[i]);
            int n = Math.Min(tokens.Count, context);
            for (int j = 0; j < n; j++) ids[i * context + j] = tokens[j];
            if (tokens.Count > context) ids[i * context + context - 1] = tokens[^1];  // keep [SEP] last
        }
        var all = new TensorDataSet($"sentences:{Path.GetFileName(path)}", tensor(ids).reshape(sentences.Count, context), null);
        long[] order = Enumerable.Range(0, sentences.Count).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        int held = Math.Max(1, (int)Math.Round(sentences.Count * validation));
        var train = all.Subset(all.Name + "/train", order[held..].Take(spec.Int("limit", int.MaxValue, 1, int.MaxValue)).ToArray());
        var eval = all.Subset(all.Name + "/validation", order[..held]);
        var calib = all.Subset(all.Name + "/calibration", order[held..].Take(spec.Int("calibration", 64, 1, 100_000)).ToArray());
        all.Dispose();
        return new DataSplits(new DataInfo(all.Name, DataKind.Sentences, [context], 0, vocabularySize, "bert-wordpiece"), train, calib, eval);
    }

    /// <summary>The largest vocabulary file read (BERT's is 230 KB; multilingual ones about 1 MB).</summary>
    public const long MaxVocabularyBytes = 64L << 20;

    /// <summary>A WordPiece tokenizer over the vocabulary file: a regular file of at most
    /// <see cref="MaxVocabularyBytes"/>, UTF-8 text of one token per line, with no control characters (a binary file is
    /// refused with one line instead of failing inside the tokenizer).</summary>
    public static (BertTokenizer Tokenizer, int Size) Vocabulary(string path)
    {
        string text = IO.InputFiles.ReadAllText(path, MaxVocabularyBytes);
        var lines = text.Split('\n');
        int count = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0 && i == lines.Length - 1) break;
            if (line.Any(c => char.IsControl(c) && c != '\t'))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a WordPiece vocabulary (line {i + 1} holds control characters; one token per line of UTF-8 text expected)");
            count++;
        }
        if (count == 0) throw new CompressException(ErrorKind.InvalidInput, $"{path}: an empty vocabulary");
        try
        {
            using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
            return (BertTokenizer.Create(stream, new BertOptions { LowerCaseBeforeTokenization = true }), count);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a usable WordPiece vocabulary ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    /// <summary>The sentences of <paramref name="text"/> with at least 3 words, whitespace collapsed.</summary>
    public static IEnumerable<string> Split(string text) =>
        SentenceBreak().Split(text).Select(s => Regex.Replace(s.Trim(), @"\s+", " ")).Where(s => s.Split(' ').Length >= 3);
}
