using Compressor.Sdk.Data;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Language-model data from a UTF-8 text file: the text is tokenized (<c>tokenizer=char</c>, the default:
/// one token per UTF-16 character over the file's sorted character set; or <c>tokenizer=gpt2</c>: GPT-2 BPE, 50,257
/// tokens), the last <c>validation</c> fraction of the token stream (default 0.1) is held out — a fixed split by
/// position, so no window of one set overlaps the other —, and each part is cut into non-overlapping windows of
/// <c>context</c> + 1 tokens (inputs = the first T, targets = the last T).</summary>
public static class TextDataSource
{
    /// <summary>Largest accepted text file.</summary>
    public const long MaxBytes = 512L << 20;

    /// <summary>Opens the file.</summary>
    public static DataSplits Open(DataSpec spec, int seed)
    {
        string path = spec.Path!;
        string tokenizer = spec.Choice("tokenizer", "char", "char", "gpt2");
        int context = spec.Int("context", 128, 2, 1 << 16);
        double validation = spec.Fraction("validation", 0.1);
        if (!File.Exists(path) && !Directory.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"--data text:{path}: no such file");
        // Only a regular file, and the size limit counted on the bytes read (/dev/zero or a FIFO never reach it).
        string text = IO.InputFiles.ReadAllText(path, MaxBytes);
        var (ids, vocab) = tokenizer == "gpt2" ? Gpt2(text) : Chars(text);
        long split = (long)(ids.Length * (1 - validation));
        if (split / (context + 1) < 1 || (ids.Length - split) / (context + 1) < 1)
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: {ids.Length} tokens are too few for context {context} with a {validation:P0} validation split");
        var train = Windows(ids.AsSpan(0, (int)split), context, $"text:{Path.GetFileName(path)}/train");
        var eval = Windows(ids.AsSpan((int)split), context, $"text:{Path.GetFileName(path)}/validation");
        long[] order = Enumerable.Range(0, (int)train.Count).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        int limit = spec.Int("limit", int.MaxValue, 1, int.MaxValue);
        if (limit < train.Count)
        {
            var limited = train.Subset(train.Name, order.Take(limit).Order().ToArray());
            train.Dispose();
            train = limited;
            order = Enumerable.Range(0, limit).Select(i => (long)i).ToArray();
            new Random(seed).Shuffle(order);
        }
        var calib = train.Subset($"text:{Path.GetFileName(path)}/calibration", order.Take(spec.Int("calibration", 64, 1, 100_000)).ToArray());
        return new DataSplits(new DataInfo($"text:{Path.GetFileName(path)}", DataKind.Tokens, [context], 0, vocab, tokenizer), train, calib, eval);
    }

    /// <summary>Character-level ids over the sorted set of characters in <paramref name="text"/>.</summary>
    public static (int[] Ids, int Vocabulary) Chars(string text)
    {
        var alphabet = text.Distinct().Order().ToArray();
        var index = new Dictionary<char, int>(alphabet.Length);
        for (int i = 0; i < alphabet.Length; i++) index[alphabet[i]] = i;
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++) ids[i] = index[text[i]];
        return (ids, alphabet.Length);
    }

    /// <summary>GPT-2 BPE ids (Microsoft.ML.Tokenizers with the GPT-2 vocabulary).</summary>
    public static (int[] Ids, int Vocabulary) Gpt2(string text)
    {
        var tok = TiktokenTokenizer.CreateForModel("gpt2");
        return (tok.EncodeToIds(text).ToArray(), 50257);
    }

    internal static TensorDataSet Windows(ReadOnlySpan<int> ids, int context, string name)
    {
        int n = (ids.Length - 1) / context;
        var x = new long[n * context];
        var y = new long[n * context];
        for (int w = 0; w < n; w++)
            for (int t = 0; t < context; t++)
            {
                x[w * context + t] = ids[w * context + t];
                y[w * context + t] = ids[w * context + t + 1];
            }
        return new TensorDataSet(name, tensor(x).reshape(n, context), tensor(y).reshape(n, context));
    }
}
