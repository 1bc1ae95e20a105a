using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Tests.Kinds;
using Compressor.Engine.Tests.Onnx;
using Compressor.Engine.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>The real all-MiniLM-L6-v2 as a Hugging Face folder (written from its ONNX initializers) through the
/// built-in BERT architecture — not the ONNX importer — reproduces the similarities sentence-transformers publishes.</summary>
public sealed class MiniLmFolderTests(MiniLmFixture fx) : IClassFixture<MiniLmFixture>, IDisposable
{
    private static readonly string[] Sentences =
    [
        "The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
        "The new movie is awesome", "The new movie is so great",
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("compress-minilm-folder-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void BertFolderReproducesPublishedSimilarities()
    {
        string folder = MiniLmFolder.Write(Path.Combine(_dir, "all-MiniLM-L6-v2"));
        using var model = ModelIO.Load(folder, TestKinds.All);
        Assert.IsType<BertModel>(model.Module);
        Assert.Equal(22_713_216, model.ParameterCount());   // 22,703,232 in embeddings and linears (as the ONNX import counts them) + 9,984 LayerNorm parameters
        using var scope = NewDisposeScope();
        var inputs = fx.Encode(Sentences);
        Tensor hidden;
        using (no_grad()) hidden = model.Run(inputs)[BertModel.LastHiddenState];
        var mask = inputs["attention_mask"].unsqueeze(-1).to_type(ScalarType.Float32);
        var emb = nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9), p: 2, dim: 1);
        var cos = emb.matmul(emb.t());
        double Cos(int i, int j) => cos[i, j].item<float>();
        Assert.Equal(0.6660, Cos(0, 1), 4);
        Assert.Equal(0.1046, Cos(0, 2), 4);
        Assert.Equal(0.1411, Cos(1, 2), 4);
        Assert.Equal(0.8939, Cos(3, 4), 4);
        // And the token states agree with ONNX Runtime running the original file.
        var reference = Compressor.Tests.Shared.OrtReference.Run(fx.Ort, inputs);
        Tolerances.AssertClose(reference["last_hidden_state"], hidden, rtol: 0, atol: 1e-4, "last_hidden_state vs the original ONNX on ORT");
    }
}
