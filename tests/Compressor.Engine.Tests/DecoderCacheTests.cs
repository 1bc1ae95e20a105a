using Compressor.Engine.Checkpoints;
using Compressor.Engine.Generation;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Engine.Tests.Kinds;
using Compressor.Sdk.Testing;
using Xunit;
using static TorchSharp.torch;
using Names = Compressor.Engine.Onnx.Export.DecoderCacheNames;

namespace Compressor.Engine.Tests;

/// <summary>The decoders' key/value-cache graph (Llama family, GPT-2) on the tiny Hugging Face folders of the
/// architecture goldens: the cached computation in TorchSharp gives the full forward's logits token by token (with
/// Mistral's sliding window shorter than the sequence, Qwen2's single key/value head and tied head), a left-padded row
/// gives the unpadded row's logits, and greedy decoding on ONNX Runtime with the cache picks the tokens TorchSharp picks
/// recomputing the whole sequence every step. Tolerance: 1e-4 max abs, as <see cref="HuggingFaceFolderTests"/> (float32
/// summation order; a wrong mask, position or cache offset moves logits by 1e-2 or more).</summary>
public sealed class DecoderCacheTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _dir = Directory.CreateTempSubdirectory("compress-kv-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private EngineModel Load(string family) => ModelIO.Load(HuggingFaceFolderTests.WriteFolder(family, _dir), TestKinds.All);

    private static IOnnxGraphReference Graph(EngineModel model) => Assert.IsAssignableFrom<IOnnxGraphReference>(model.Module);

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    [InlineData("gpt2")]
    public void CachedStepsGiveTheFullForwardLogits(string family)
    {
        using var model = Load(family);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = HuggingFaceFolderTests.Golden(family, "in")["input_ids"];
        long t = ids.shape[1];
        var full = model.Forward(ids);
        var graph = Graph(model);
        // A 3-token prompt with an empty cache, then one token at a time.
        var outputs = graph.RunGraph(new Dictionary<string, Tensor> { [Names.InputIds] = ids[.., ..3] });
        Tolerances.AssertClose(full[.., ..3], outputs[Names.Logits], rtol: 0, atol: Tolerance, $"{family} prompt");
        int layers = outputs.Keys.Count(k => k.StartsWith(Names.PresentPrefix, StringComparison.Ordinal)) / 2;
        for (long i = 3; i < t; i++)
        {
            var feed = new Dictionary<string, Tensor> { [Names.InputIds] = ids[.., (int)i..(int)(i + 1)] };
            for (int l = 0; l < layers; l++)
            {
                feed[Names.PastKey(l)] = outputs[Names.PresentKey(l)];
                feed[Names.PastValue(l)] = outputs[Names.PresentValue(l)];
            }
            outputs = graph.RunGraph(feed);
            Assert.Equal(i + 1, outputs[Names.PresentKey(0)].shape[2]);
            Tolerances.AssertClose(full[.., (int)i..(int)(i + 1)], outputs[Names.Logits], rtol: 0, atol: Tolerance, $"{family} step {i}");
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void LeftPaddedRowsGiveTheUnpaddedLogits(string family)
    {
        using var model = Load(family);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = HuggingFaceFolderTests.Golden(family, "in")["input_ids"][..1];   // [1, T]
        long t = ids.shape[1];
        var alone = Graph(model).RunGraph(new Dictionary<string, Tensor> { [Names.InputIds] = ids })[Names.Logits];
        // Two padding positions in front (any id), masked out; positions from the mask as transformers.js derives them.
        var padded = cat([full(1, 2, 5L), ids], 1);
        var mask = cat([zeros(1, 2, ScalarType.Int64), ones(1, t, ScalarType.Int64)], 1);
        var logits = Graph(model).RunGraph(new Dictionary<string, Tensor> { [Names.InputIds] = padded, [Names.AttentionMask] = mask })[Names.Logits];
        Assert.False(logits.isnan().any().item<bool>(), "padding rows must not produce NaN");
        Tolerances.AssertClose(alone, logits[.., 2..], rtol: 0, atol: Tolerance, $"{family} left-padded");
    }

    [Theory]
    [InlineData("llama", 12)]
    [InlineData("mistral", 12)]
    [InlineData("gpt2", 12)]
    public void GreedyDecodingOnOrtWithTheCacheMatchesTorchSharpRecomputing(string family, int newTokens)
    {
        using var model = Load(family);
        string onnx = Path.Combine(_dir, family + ".onnx");
        var export = OnnxExporter.Export(model, onnx, TestKinds.All);
        Assert.Equal([Names.InputIds, Names.AttentionMask, Names.PositionIds, Names.PastKey(0), Names.PastValue(0)], export.Inputs.Take(5).Select(i => i.Name));
        Assert.Equal([Names.Logits, Names.PresentKey(0), Names.PresentValue(0)], export.Outputs.Take(3).Select(o => o.Name));
        Assert.Equal(Names.Batch, export.Inputs[3].Shape[0].Symbol);   // transformers.js sizes the empty cache by this name

        var prompt = HuggingFaceFolderTests.Golden(family, "in")["input_ids"][0, ..4].data<long>().Select(v => (int)v).ToList();
        using var decoder = new OrtDecoder(onnx, threads: 1);
        var ort = GreedyDecoding.Run(decoder, prompt, newTokens, new HashSet<int>(), null);
        Assert.Equal("length", ort.StopReason);
        Assert.Equal(newTokens - 1, ort.DecodeSteps);

        var torch = TorchGreedy(model, prompt, newTokens, out double margin);
        Assert.Equal(torch, ort.Tokens);
        // The comparison means something only when no step was a near tie.
        Assert.True(margin > 1e-3, $"{family}: smallest top-1/top-2 margin {margin:G3}");
    }

    [Fact]
    public void GateComparesEveryCaseAndFailsAWrongGraph()
    {
        using var model = Load("llama");
        string onnx = Path.Combine(_dir, "gate.onnx");
        var export = OnnxExporter.Export(model, onnx, TestKinds.All);
        var cases = Graph(model).VerificationCases(0);
        Assert.Equal(["prefill", "decode step", "continuation"], cases.Select(c => c.Name));
        Assert.Equal(0, cases[0].Inputs[Names.PastKey(0)].shape[2]);
        Assert.Equal(1, cases[1].Inputs[Names.InputIds].shape[1]);
        var verification = OnnxVerifier.Verify(model, export, new VerificationOptions { DetectFusedKernels = false });
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
        Assert.True(verification.SqnrDb >= 80, $"SQNR {verification.SqnrDb:F1} dB");

        // A graph whose decode step is wrong (the rotary angles of the cached path shifted by one position) fails the gate.
        using (no_grad())
        {
            var wrong = Path.Combine(_dir, "wrong.onnx");
            var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
            var cast = proto.Graph.Node.First(n => n.OpType == "Cast" && n.Input[0] == Names.PositionIds);
            string shifted = Names.PositionIds + "_shifted";
            proto.Graph.Node.Insert(proto.Graph.Node.IndexOf(cast), new global::Onnx.NodeProto
            {
                OpType = "Add", Name = "shift", Input = { Names.PositionIds, "shift_one" }, Output = { shifted },
            });
            proto.Graph.Initializer.Add(new global::Onnx.TensorProto { Name = "shift_one", DataType = (int)global::Onnx.TensorProto.Types.DataType.Int64, Int64Data = { 1 } });
            cast.Input[0] = shifted;
            File.WriteAllBytes(wrong, Google.Protobuf.MessageExtensions.ToByteArray(proto));
            var bad = OnnxVerifier.Verify(model, export with { ModelPath = wrong }, new VerificationOptions { DetectFusedKernels = false });
            Assert.False(bad.Passed);
            Assert.Contains(bad.Failures, f => f.Contains("SQNR", StringComparison.Ordinal));
        }
    }

    /// <summary>Greedy tokens recomputing the whole sequence each step (the model's own forward, no cache), and the
    /// smallest gap between the best and second-best score met.</summary>
    internal static List<int> TorchGreedy(EngineModel model, IReadOnlyList<int> prompt, int newTokens, out double margin)
    {
        using var noGrad = no_grad();
        var ids = prompt.Select(i => (long)i).ToList();
        var tokens = new List<int>();
        margin = double.PositiveInfinity;
        for (int i = 0; i < newTokens; i++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Forward(tensor(ids.ToArray(), [1, ids.Count]))[0, -1];
            var top = logits.topk(2);
            margin = Math.Min(margin, (top.values[0] - top.values[1]).item<float>());
            int next = (int)logits.argmax().item<long>();
            tokens.Add(next);
            ids.Add(next);
        }
        return tokens;
    }
}
