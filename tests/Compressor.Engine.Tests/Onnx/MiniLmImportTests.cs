using System.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The real all-MiniLM-L6-v2 (PyTorch opset-13 export) imported into TorchSharp against ONNX Runtime and the
/// published sentence-transformers similarities.</summary>
public sealed class MiniLmImportTests(MiniLmFixture fx, ITestOutputHelper output) : IClassFixture<MiniLmFixture>
{
    private static readonly string[] Sentences =
    [
        "The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
        "The new movie is awesome", "The new movie is so great",
    ];

    [Fact]
    public void ImportsEveryWeightAsAReplaceableLayerWithPyTorchNames()
    {
        output.WriteLine($"import: {fx.ImportSeconds:F2} s");
        var layers = fx.Model.Layers();
        Assert.Equal(3, layers.Count(l => l.Type == LayerType.Embedding));
        Assert.Equal(6 * 6 + 1, layers.Count(l => l.Type == LayerType.Linear)); // q, k, v, o, up, down per block + pooler
        Assert.Contains(layers, l => l.Name == "embeddings.word_embeddings" && l.WeightShape.SequenceEqual([30522L, 384]));
        Assert.Contains(layers, l => l.Name == "encoder.layer.0.attention.self.query" && l.WeightShape.SequenceEqual([384L, 384]));
        Assert.Contains(layers, l => l.Name == "encoder.layer.5.intermediate.dense" && l.WeightShape.SequenceEqual([1536L, 384]));
        Assert.Contains(layers, l => l.Name == "pooler.dense");
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], fx.Model.InputNames);
        Assert.Equal("last_hidden_state", fx.Model.OutputNames[0]);
        // Every initializer element is in the module, once: as a layer parameter or as a buffer.
        using var reader = Checkpoints.CheckpointFormats.Open(fx.Files.ModelPath);
        Assert.Equal(reader.Tensors.Sum(t => t.ElementCount),
            fx.Model.Module.parameters().Sum(p => p.numel()) + fx.Model.Module.buffers().Sum(b => b.numel()));
        Assert.Equal(22_703_232, fx.Model.Layers().Sum(l => l.Module.parameters().Sum(p => p.numel())));
    }

    [Fact]
    public void ReproducesOrtLastHiddenStateOnRealSentencesWithDynamicShapes()
    {
        // Two batches of different batch and sequence sizes through the same module: the shape subgraphs are dynamic.
        foreach (var batch in new[] { Sentences, Sentences[..2] })
        {
            using var scope = NewDisposeScope();
            var inputs = fx.Encode(batch);
            var watch = Stopwatch.StartNew();
            IReadOnlyDictionary<string, Tensor> ours;
            using (no_grad()) ours = fx.Model.Run(inputs);
            double ms = watch.Elapsed.TotalMilliseconds;
            var reference = OrtReference.Run(fx.Ort, inputs);
            var a = ours["last_hidden_state"];
            var b = reference["last_hidden_state"];
            Assert.Equal(b.shape, a.shape);
            double maxAbs = (a - b).abs().max().item<float>();
            double pooledMaxAbs = (ours[fx.Model.OutputNames[1]] - reference[fx.Model.OutputNames[1]]).abs().max().item<float>();
            output.WriteLine($"batch [{string.Join("x", a.shape)}]: TorchSharp {ms:F0} ms, max |Δ last_hidden_state| = {maxAbs:E2}, max |Δ pooler| = {pooledMaxAbs:E2}");
            Assert.True(maxAbs <= 1e-4, $"max abs error {maxAbs} > 1e-4");
            Assert.True(pooledMaxAbs <= 1e-4, $"pooler max abs error {pooledMaxAbs} > 1e-4");
        }
    }

    [Fact]
    public void MeanPooledEmbeddingsReproducePublishedSimilarities()
    {
        using var scope = NewDisposeScope();
        var inputs = fx.Encode(Sentences);
        Tensor hidden;
        using (no_grad()) hidden = fx.Model.Run(inputs)["last_hidden_state"];
        var mask = inputs["attention_mask"].unsqueeze(-1).to_type(ScalarType.Float32);
        var pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
        var emb = nn.functional.normalize(pooled, p: 2, dim: 1);
        var cos = emb.matmul(emb.t());
        double Cos(int i, int j) => cos[i, j].item<float>();
        for (int i = 0; i < Sentences.Length; i++)
            for (int j = i + 1; j < Sentences.Length; j++)
                output.WriteLine($"cos({Sentences[i]} | {Sentences[j]}) = {Cos(i, j):F4}");
        // Published by sentence-transformers for all-MiniLM-L6-v2 (4 decimals).
        Assert.Equal(0.6660, Cos(0, 1), 4);
        Assert.Equal(0.1046, Cos(0, 2), 4);
        Assert.Equal(0.1411, Cos(1, 2), 4);
        Assert.Equal(0.8939, Cos(3, 4), 4);
    }

    [Fact]
    public void ASavedCheckpointReloadsWithoutTheOnnxFileAndRunsIdentically()
    {
        string dir = Directory.CreateTempSubdirectory("minilm-").FullName;
        try
        {
            string path = Path.Combine(dir, "minilm.safetensors");
            var watch = Stopwatch.StartNew();
            Checkpoints.ModelIO.Save(fx.Model, path);
            double save = watch.Elapsed.TotalSeconds;
            watch.Restart();
            using var back = Checkpoints.ModelIO.Load(path, TestKinds.All);
            double load = watch.Elapsed.TotalSeconds;
            output.WriteLine($"save {save:F2} s, reload {load:F2} s, {new FileInfo(path).Length:N0} bytes, architecture spec {back.Spec!.ToJson().Length:N0} characters");
            Assert.Equal("onnx", back.ArchitectureName);
            Assert.Equal(fx.Model.Layers().Select(l => l.Name), back.Layers().Select(l => l.Name));
            using var scope = NewDisposeScope();
            var inputs = fx.Encode(Sentences[..3]);
            using var noGrad = no_grad();
            var a = fx.Model.Run(inputs)["last_hidden_state"];
            var b = back.Run(inputs)["last_hidden_state"];
            var theirs = back.NamedTensors().ToDictionary(t => t.Name, t => t.Tensor);
            foreach (var (name, t) in fx.Model.NamedTensors())
                Assert.True(t.equal(theirs[name]).all().item<bool>(), $"tensor {name} differs after the round trip");
            Assert.True(a.equal(b).all().item<bool>(), $"max |Δ| {(a - b).abs().max().item<float>()}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Forward with one tensor feeds a three-input graph the way the model feeds itself a batch (token ids
    /// with their attention mask and token types) and returns the first output.</summary>
    [Fact]
    public void ForwardFeedsAThreeInputGraphItsBatch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 101, 2023, 2003, 102, 0, 0 }).reshape(1, 6);
        var forward = fx.Model.Forward(ids);
        var run = fx.Model.Run(fx.Model.Feed(ids))[fx.Model.OutputNames[0]];
        Tolerances.AssertIdentical(run, forward, "Forward vs Run(Feed)");
    }

    [Fact]
    public void LayerOfInitializerMapsTransposedMatMulWeights()
    {
        var module = (OnnxModule)fx.Model.Module;
        Assert.Equal("encoder.layer.0.attention.self.query", module.LayerOfInitializer["encoder.layer.0.attention.self.query.bias"]);
        Assert.Equal("embeddings.position_ids", module.BufferOfInitializer["embeddings.position_ids"]);
        Assert.Equal("embeddings.LayerNorm.weight", module.BufferOfInitializer["embeddings.LayerNorm.weight"]);
    }
}
