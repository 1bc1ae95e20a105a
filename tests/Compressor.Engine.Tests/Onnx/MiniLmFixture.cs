using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Models.Pretrained;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The real all-MiniLM-L6-v2, imported once for its test class, with ORT and a BERT tokenizer on its vocab.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmFixture()
    {
        Files = PretrainedModels.MiniLm();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Model = ModelIO.Load(Files.ModelPath, TestKinds.All);
        ImportSeconds = watch.Elapsed.TotalSeconds;
        Ort = OrtReference.Session(Files.ModelPath);
        using var vocab = File.OpenRead(Files.VocabPath);
        Tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
    }

    public MiniLmFiles Files { get; }

    public EngineModel Model { get; }

    public double ImportSeconds { get; }

    public InferenceSession Ort { get; }

    public BertTokenizer Tokenizer { get; }

    /// <summary>input_ids / attention_mask / token_type_ids for <paramref name="sentences"/>, padded to the longest.</summary>
    public Dictionary<string, Tensor> Encode(IReadOnlyList<string> sentences)
    {
        var ids = sentences.Select(s => Tokenizer.EncodeToIds(s)).ToList();
        int length = ids.Max(x => x.Count);
        var flat = new long[sentences.Count * length];
        var mask = new long[sentences.Count * length];
        for (int b = 0; b < ids.Count; b++)
            for (int i = 0; i < ids[b].Count; i++)
            {
                flat[b * length + i] = ids[b][i];
                mask[b * length + i] = 1;
            }
        long[] shape = [sentences.Count, length];
        return new Dictionary<string, Tensor>
        {
            ["input_ids"] = tensor(flat, shape),
            ["attention_mask"] = tensor(mask, shape),
            ["token_type_ids"] = zeros(shape, ScalarType.Int64),
        };
    }

    public void Dispose()
    {
        Model.Dispose();
        Ort.Dispose();
    }
}
