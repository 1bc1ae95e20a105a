using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Tests.Kinds;
using Compressor.Engine.Tests.Onnx;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using Onnx;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Models;

/// <summary>What the engine's models know about themselves: the built-in ViT's transformer layout, frozen copies
/// rebuilt from the architecture (or the graph) with compressed layers rebuilt by their kinds, and how an imported
/// encoder is fed a data batch.</summary>
public sealed class EngineModelTests
{
    private static ArchitectureModel Vit(bool distilled = false, int seed = 0)
    {
        manual_seed(seed);
        var spec = ArchitectureRegistry.Spec("vit", new JObject { ["dim"] = 32, ["depth"] = 3, ["heads"] = 4, ["distilled"] = distilled });
        return Assert.IsType<ArchitectureModel>(ArchitectureRegistry.CreateModel(spec, TestKinds.All));
    }

    [Fact]
    public void TheBuiltInVitKnowsItsTransformerLayout()
    {
        using var model = Vit();
        var layout = model.Transformer;
        Assert.NotNull(layout);
        Assert.Equal(["blocks.0", "blocks.1", "blocks.2"], layout.Blocks.Select(b => b.Name));
        var block = layout.Blocks[1];
        Assert.Equal(new AttentionLayout("blocks.1.attn", 4, "qkv", "proj"), block.Attention);
        Assert.Equal(("blocks.1.mlp.fc1", "blocks.1.mlp.fc2"), (block.FeedForwardIn, block.FeedForwardOut));
        Assert.Equal(["patch_embed.proj"], layout.Inputs);
        Assert.Equal(["head"], layout.Heads);
        // Every name is a module of the model.
        foreach (var b in layout.Blocks)
        {
            model.GetLayer(b.Name);
            model.GetLayer(b.Attention.Name + "." + b.Attention.QueryKeyValue);
            model.GetLayer(b.Attention.Name + "." + b.Attention.Output);
            model.GetLayer(b.FeedForwardIn);
            model.GetLayer(b.FeedForwardOut);
        }
        using var distilled = Vit(distilled: true);
        Assert.Equal(["head", "head_dist"], distilled.Transformer!.Heads);
        using var mlp = TinyModels.Mlp();
        Assert.Null(mlp.Transformer);
        Assert.True(mlp.IsExecutable);
        Assert.Equal("mlp", mlp.ArchitectureName);
    }

    [Fact]
    public void AFrozenCopyIsIndependentAndComputesTheSame()
    {
        using var model = Vit(seed: 4);
        var fc1 = (TorchSharp.Modules.Linear)model.GetLayer("blocks.0.mlp.fc1");
        model.ReplaceLayer("blocks.0.mlp.fc1", TestQuantizedLinear.Quantize(fc1.weight!.detach(), fc1.bias!.detach(), bits: 4, groupSize: 16));
        model.Module.train();
        using var x = TinyModels.Inputs([2, 1, 8, 8]);

        manual_seed(77);
        using var copy = Assert.IsType<ArchitectureModel>(model.FrozenCopy());
        using var drawnAfterCopy = randn(4);
        manual_seed(77);
        using var drawn = randn(4);
        Tolerances.AssertIdentical(drawn, drawnAfterCopy, "global generator");   // taking a copy draws nothing from it

        Assert.True(model.Module.training);
        Assert.False(copy.Module.training);
        Assert.All(copy.Module.parameters(), p => Assert.False(p.requires_grad));
        Assert.True(model.Module.parameters().All(p => p.requires_grad));
        Assert.Equal(model.Spec, copy.Spec);
        Assert.Same(model.Kinds, copy.Kinds);
        var q = Assert.IsType<TestQuantizedLinear>(copy.GetLayer("blocks.0.mlp.fc1"));
        Assert.NotSame(model.GetLayer("blocks.0.mlp.fc1"), q);
        Assert.Equal(((TestQuantizedLinear)model.GetLayer("blocks.0.mlp.fc1")).TypedConfig, q.TypedConfig);
        Assert.Equal(model.NamedTensors().Select(t => t.Name), copy.NamedTensors().Select(t => t.Name));

        model.Module.eval();
        Tensor expected;
        using (no_grad()) expected = model.Forward(x);
        using (expected)
        {
            using (no_grad())
            using (var y = copy.Forward(x))
                Tolerances.AssertIdentical(expected, y, "outputs");
            // Changing the copy leaves the original as it was.
            using (no_grad())
            {
                ((TorchSharp.Modules.Linear)copy.GetLayer("head")).weight!.add_(1);
                q.Codes.zero_();
                using var after = model.Forward(x);
                Tolerances.AssertIdentical(expected, after, "original after the copy changed");
                using var changed = copy.Forward(x);
                Assert.False(changed.equal(expected).all().item<bool>());
            }
        }
    }

    [Fact]
    public void AnImportedGraphCopiesItselfFromItsGraph()
    {
        using var model = OnnxImporter.ToModel(SmallGraphs.Mlp(), null, "mlp graph", TestKinds.All);
        var fc1 = (TorchSharp.Modules.Linear)model.GetLayer("fc1");
        model.ReplaceLayer("fc1", TestQuantizedLinear.Quantize(fc1.weight!.detach(), fc1.bias!.detach(), bits: 8, groupSize: 0));
        using var copy = Assert.IsType<ImportedModel>(model.FrozenCopy());
        Assert.IsType<TestQuantizedLinear>(copy.GetLayer("fc1"));
        Assert.Equal(model.InputNames, copy.InputNames);
        Assert.Equal(model.Spec!.ToJson(), copy.Spec!.ToJson());
        using var x = randn(5, 8);
        using var noGrad = no_grad();
        using var a = model.Forward(x);
        using var b = copy.Forward(x);
        Tolerances.AssertIdentical(a, b, "outputs");
        ((TorchSharp.Modules.Linear)copy.GetLayer("fc2")).weight!.mul_(2);
        using var again = model.Forward(x);
        Tolerances.AssertIdentical(a, again, "original after the copy changed");
    }

    /// <summary>ids [batch, seq] (int64) and its side inputs → Gather(tok) + Gather(type) → × mask → hidden.</summary>
    private static ModelProto Encoder(params string[] inputOrder)
    {
        var g = manual_seed(21);
        var ids = Value("input_ids", (int)TensorProto.Types.DataType.Int64, "batch", "seq");
        var mask = Value("attention_mask", (int)TensorProto.Types.DataType.Int64, "batch", "seq");
        var types = Value("token_type_ids", (int)TensorProto.Types.DataType.Int64, "batch", "seq");
        var byName = new Dictionary<string, ValueInfoProto> { ["input_ids"] = ids, ["attention_mask"] = mask, ["token_type_ids"] = types };
        var inputs = inputOrder.Select(n => byName.TryGetValue(n, out var v) ? v : Value(n, (int)TensorProto.Types.DataType.Int64, "batch", "seq")).ToList();
        var nodes = new List<NodeProto>
        {
            Node("Gather", "tok", ["tok.weight", "input_ids"], ["e"]),
            Node("Gather", "type", ["type.weight", "token_type_ids"], ["t"]),
            Node("Add", "sum", ["e", "t"], ["h"]),
            Node("Cast", "cast", ["attention_mask"], ["m"], Attr("to", 1L)),
            Node("Unsqueeze", "unsqueeze", ["m", "axes"], ["mu"]),
            Node("Mul", "masked", ["h", "mu"], ["hidden"]),
        };
        foreach (var extra in inputOrder.Where(n => !byName.ContainsKey(n)))
            nodes.Add(Node("Identity", "use_" + extra, [extra], [extra + "_out"]));
        var outputs = new List<ValueInfoProto> { Float("hidden", "batch", "seq", 6) };
        outputs.AddRange(inputOrder.Where(n => !byName.ContainsKey(n)).Select(n => Value(n + "_out", (int)TensorProto.Types.DataType.Int64, "batch", "seq")));
        return Model(13, nodes, inputs, outputs,
            [Init("tok.weight", randn([10, 6], generator: g)), Init("type.weight", randn([2, 6], generator: g)), Init("axes", tensor(new long[] { 2 }))]);
    }

    [Fact]
    public void TokenIdsFeedAnEncoderWithTheirMaskAndTokenTypes()
    {
        using var model = OnnxImporter.ToModel(Encoder("attention_mask", "input_ids", "token_type_ids"), null, "encoder", TestKinds.All);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 3, 5, 2, 0, 0, 7, 1, 4, 9, 0 }).reshape(2, 5);   // 0 = padding
        var feed = model.Feed(ids);
        Assert.Equal(["attention_mask", "input_ids", "token_type_ids"], feed.Keys.Order(StringComparer.Ordinal));
        Tolerances.AssertIdentical(ids, feed["input_ids"], "input_ids");
        Tolerances.AssertIdentical(tensor(new long[] { 1, 1, 1, 0, 0, 1, 1, 1, 1, 0 }).reshape(2, 5), feed["attention_mask"], "attention_mask");
        Tolerances.AssertIdentical(zeros([2, 5], ScalarType.Int64), feed["token_type_ids"], "token_type_ids");
        Assert.Equal(new long[] { 2, 5 }, feed["input_ids"].shape);   // the sequence is not trimmed
        using var noGrad = no_grad();
        var fed = model.Run(feed)["hidden"];
        var explicitly = model.Run(new Dictionary<string, Tensor>
        {
            ["input_ids"] = ids, ["attention_mask"] = ids.ne(0).to_type(ScalarType.Int64), ["token_type_ids"] = zeros_like(ids),
        })["hidden"];
        Tolerances.AssertIdentical(explicitly, fed, "hidden");
        Assert.Equal(0f, fed[0, 3].abs().sum().item<float>());
        // Forward with one tensor feeds a graph of several inputs the same way and returns the first output.
        Tolerances.AssertIdentical(fed, model.Forward(ids), "Forward(ids) vs Run(Feed(ids))");
    }

    [Fact]
    public void AnInputABatchCannotGiveIsNamed()
    {
        using var model = OnnxImporter.ToModel(Encoder("input_ids", "attention_mask", "token_type_ids", "position_ids"), null, "encoder", TestKinds.All);
        using var ids = tensor(new long[] { 3, 5 }).reshape(1, 2);
        var e = Assert.Throws<CompressException>(() => model.Feed(ids));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("'position_ids'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        using var images = randn(1, 2);
        var f = Assert.Throws<CompressException>(() => model.Feed(images));
        Assert.Contains("'attention_mask'", f.Message);
    }

    [Fact]
    public void AOneInputGraphTakesTheBatchAsItsInput()
    {
        using var mlp = OnnxImporter.ToModel(SmallGraphs.Mlp(), null, "mlp", TestKinds.All);
        using var x = randn(3, 8);
        var feed = mlp.Feed(x);
        Assert.Equal(["x"], feed.Keys);
        Tolerances.AssertIdentical(x, feed["x"], "x");
        // A one-input graph of token ids gets them as they are, whatever its input is called.
        using var embed = OnnxImporter.ToModel(SmallGraphs.Embed(), null, "embed", TestKinds.All);
        using var ids = tensor(new long[] { 1, 2, 3 }).reshape(1, 3);
        Assert.Equal(["ids"], embed.Feed(ids).Keys);
        using var noGrad = no_grad();
        Tolerances.AssertIdentical(embed.Forward(ids), embed.Run(embed.Feed(ids))["y"], "y");
    }

    [Fact]
    public void BlocksAndValuesOfAnImportedGraphAreTheGraphs()
    {
        using var model = OnnxImporter.ToModel(SmallGraphs.Mlp(), null, "mlp", TestKinds.All);
        using var scope = NewDisposeScope();
        var example = new Dictionary<string, Tensor> { ["x"] = randn(2, 8) };
        var blocks = model.FindBlocks(["fc1", "fc2"], example);
        Assert.NotNull(blocks);
        var expected = OnnxBlocks.Find(model.Graph, ["fc1", "fc2"], example);
        Assert.Equal(expected.Select(b => (string.Join(",", b.Layers), string.Join(",", b.Inputs), string.Join(",", b.Outputs))),
            blocks.Select(b => (string.Join(",", b.Layers), string.Join(",", b.Inputs), string.Join(",", b.Outputs))));
        using var noGrad = no_grad();
        var y = model.RunValues(example, ["y"])["y"];
        Tolerances.AssertIdentical(model.Forward(example["x"]), y, "y");
        // A built-in model has no named values.
        using var mlp = TinyModels.Mlp();
        Assert.Null(mlp.FindBlocks(["layers.0"], example));
        Assert.Throws<CompressException>(() => mlp.RunValues(example, ["y"]));
    }
}
