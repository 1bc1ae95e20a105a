using Compressor.Tests.Shared;
using Compressor.Engine.Models.Pretrained;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace RoundToNearest.Tests;

/// <summary>What the MiniLM re-export tests share: the real all-MiniLM-L6-v2 files, a BERT tokenizer on its vocab,
/// real sentences encoded as its three int64 inputs, and ONNX Runtime's FP32 outputs on the original file.</summary>
public sealed class MiniLmReexportFixture : IDisposable
{
    /// <summary>Real sentences of different lengths (padded to the longest, masked).</summary>
    public static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Compression makes neural networks smaller and faster to run on a laptop.",
        "A man is playing a guitar on the street while people walk by.",
        "Stock markets fell sharply after the central bank raised interest rates again.",
        "How do I reset my password if I no longer have access to my email?",
        "The cat sat on the mat.",
    ];

    public MiniLmReexportFixture()
    {
        Files = PretrainedModels.MiniLm();
        using var vocab = File.OpenRead(Files.VocabPath);
        var tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        var ids = Sentences.Select(s => tokenizer.EncodeToIds(s)).ToList();
        int length = ids.Max(x => x.Count);
        var flat = new long[Sentences.Length * length];
        var mask = new long[Sentences.Length * length];
        for (int b = 0; b < ids.Count; b++)
            for (int i = 0; i < ids[b].Count; i++)
            {
                flat[b * length + i] = ids[b][i];
                mask[b * length + i] = 1;
            }
        long[] shape = [Sentences.Length, length];
        Inputs = new Dictionary<string, Tensor>
        {
            ["input_ids"] = tensor(flat, shape),
            ["attention_mask"] = tensor(mask, shape),
            ["token_type_ids"] = zeros(shape, ScalarType.Int64),
        };
        Reference = OrtRunner.Run(Files.ModelPath, Inputs, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        ReferenceEmbeddings = Embeddings(Reference[FirstOutput(Files.ModelPath)]);
    }

    public MiniLmFiles Files { get; }

    /// <summary>The tokenized sentences (input_ids, attention_mask, token_type_ids).</summary>
    public Dictionary<string, Tensor> Inputs { get; }

    /// <summary>ORT's outputs of the original file at ORT_ENABLE_BASIC.</summary>
    public Dictionary<string, Tensor> Reference { get; }

    /// <summary>The FP32 sentence embeddings (mean-pooled, L2-normalised).</summary>
    public Tensor ReferenceEmbeddings { get; }

    /// <summary>The name of the first graph output of the ONNX file at <paramref name="path"/> (the token states).</summary>
    public static string FirstOutput(string path)
    {
        using var session = new InferenceSession(path);
        return session.OutputMetadata.Keys.First();
    }

    /// <summary>Sentence embeddings from token states [batch, tokens, hidden]: the mean over unmasked tokens,
    /// L2-normalised (as sentence-transformers does for this model).</summary>
    public Tensor Embeddings(Tensor tokenStates)
    {
        using var scope = NewDisposeScope();
        var mask = Inputs["attention_mask"].to_type(ScalarType.Float32).unsqueeze(-1);
        var mean = (tokenStates * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
        return scope.MoveToOuter(nn.functional.normalize(mean, p: 2, dim: 1));
    }

    /// <summary>Per sentence, the cosine of <paramref name="embeddings"/> with the FP32 ones.</summary>
    public double[] Cosines(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        return (embeddings * ReferenceEmbeddings).sum(1).data<float>().ToArray().Select(v => (double)v).ToArray();
    }

    public void Dispose()
    {
        foreach (var t in Inputs.Values.Concat(Reference.Values)) t.Dispose();
        ReferenceEmbeddings.Dispose();
    }
}
