using Compressor.Engine.Data;
using Compressor.Engine.Models.Pretrained;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace JLCM.Tests;

/// <summary>Eight real English sentences as all-MiniLM-L6-v2 token ids, for the tests that calibrate on the real model.</summary>
internal static class MiniLmSentences
{
    public static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Compression makes neural networks smaller and faster to run on a laptop.",
        "A man is playing a guitar on the street while people walk by.",
        "Stock markets fell sharply after the central bank raised interest rates again.",
        "How do I reset my password if I no longer have access to my email?",
        "Call me Ishmael, some years ago, never mind how long precisely.",
        "The committee will vote on the new budget proposal next Tuesday.",
        "Whales were hunted for their oil across every ocean of the world.",
    ];

    /// <summary>The sentences tokenized with MiniLM's lower-casing WordPiece vocabulary ([CLS] … [SEP]), padded with
    /// 0 to the longest: token ids [8, T] with no targets.</summary>
    public static TensorDataSet TokenIds()
    {
        using var vocab = File.OpenRead(PretrainedModels.MiniLm().VocabPath);
        var tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        var ids = Sentences.Select(s => tokenizer.EncodeToIds(s)).ToList();
        int length = ids.Max(x => x.Count);
        var flat = new long[ids.Count * length];
        for (int b = 0; b < ids.Count; b++)
            for (int i = 0; i < ids[b].Count; i++) flat[b * length + i] = ids[b][i];
        return new TensorDataSet("sentences", tensor(flat, [ids.Count, length]), null);
    }
}
