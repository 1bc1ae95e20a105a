using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Import;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>Cutting real imported graphs into blocks (<see cref="OnnxBlocks"/>) and running pieces of them
/// (<see cref="OnnxModule.RunValues"/>): the blocks are the networks' residual units, and running them one after
/// another from their captured inputs gives the model's outputs.</summary>
public sealed class OnnxBlocksTests(MiniLmFixture miniLm, ITestOutputHelper output) : IClassFixture<MiniLmFixture>
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Runs the blocks in order, each from values computed by the blocks before it (side values such as the
    /// attention mask from the graph inputs), and returns every value computed.</summary>
    private static Dictionary<string, Tensor> Chain(OnnxModule graph, IReadOnlyList<OnnxBlock> blocks, Dictionary<string, Tensor> inputs)
    {
        var values = new Dictionary<string, Tensor>(inputs);
        foreach (var block in blocks)
        {
            var side = block.Inputs.Where(i => !values.ContainsKey(i)).ToList();
            foreach (var (name, v) in graph.RunValues(inputs, side)) values[name] = v;
            foreach (var (name, v) in graph.RunValues(block.Inputs.ToDictionary(i => i, i => values[i]), block.Outputs)) values[name] = v;
        }
        return values;
    }

    [Fact]
    public void ResNet18BlocksAreItsResidualBlocksAndChainToTheModelOutput()
    {
        using var scope = NewDisposeScope();
        using var model = ModelIO.Load(PretrainedModels.ResNet18(), TestKinds.All);
        var graph = (OnnxModule)model.Module;
        var convs = model.Layers().Where(l => l.Type == LayerType.Conv2d).Select(l => l.Name).ToList();
        var x = randn([2, 3, 224, 224], generator: new Generator(5)).mul(60);
        var blocks = OnnxBlocks.Find(graph, convs, new Dictionary<string, Tensor> { ["Input247"] = x.narrow(0, 0, 1) });
        foreach (var b in blocks) output.WriteLine($"[{string.Join(", ", b.Layers)}] {string.Join(", ", b.Inputs)} → {string.Join(", ", b.Outputs)}");
        // The stem conv, then eight basic blocks of two convs (+ the 1×1 downsample conv where the width doubles).
        Assert.Equal([1, 2, 2, 3, 2, 3, 2, 3, 2, 2], blocks.Select(b => b.Layers.Count));
        Assert.Equal(convs.Order(), blocks.SelectMany(b => b.Layers).Order());
        Assert.Equal(["Input247"], blocks[0].Inputs);
        for (int i = 1; i < blocks.Count; i++) Assert.Equal(blocks[i - 1].Outputs, blocks[i].Inputs);   // one activation in, one out
        Assert.Equal(["Pooling395_Output_0"], blocks[^1].Outputs);
        using var noGrad = no_grad();
        var full = graph.Run(new Dictionary<string, Tensor> { ["Input247"] = x })["Pooling395_Output_0"];
        var chained = Chain(graph, blocks, new Dictionary<string, Tensor> { ["Input247"] = x })["Pooling395_Output_0"];
        // The same kernels on the same values in the same order: identical, not merely close.
        Assert.True(Same(chained, full), $"max difference {chained.sub(full).abs().max().item<float>()}");
    }

    [Fact]
    public void MiniLmBlocksAreAttentionAndFeedForwardSubBlocks()
    {
        using var scope = NewDisposeScope();
        var model = miniLm.Model;
        var graph = (OnnxModule)model.Module;
        var linears = model.Layers().Where(l => l.Type == LayerType.Linear).Select(l => l.Name).ToList();
        var inputs = miniLm.Encode(["Call me Ishmael.", "It was the best of times, it was the worst of times, it was the age of wisdom."]);
        var blocks = OnnxBlocks.Find(graph, linears, inputs);
        foreach (var b in blocks) output.WriteLine($"[{string.Join(", ", b.Layers)}] {string.Join(", ", b.Inputs)} → {string.Join(", ", b.Outputs)}");
        Assert.Equal(13, blocks.Count);   // 6 × (attention, feed-forward) + the pooler
        for (int layer = 0; layer < 6; layer++)
        {
            var attention = blocks[2 * layer];
            var ffn = blocks[2 * layer + 1];
            Assert.Equal(4, attention.Layers.Count);
            Assert.All(attention.Layers, n => Assert.StartsWith($"encoder.layer.{layer}.attention.", n));
            Assert.Equal([$"encoder.layer.{layer}.intermediate.dense", $"encoder.layer.{layer}.output.dense"], ffn.Layers);
            // Attention reads the hidden state and the mask computed from the graph input; the feed-forward block only
            // the attention block's output.
            Assert.Equal(2, attention.Inputs.Count);
            Assert.Equal(attention.Outputs, ffn.Inputs);
        }
        Assert.Equal(["pooler.dense"], blocks[^1].Layers);
        using var noGrad = no_grad();
        var full = graph.Run(inputs);
        var chained = Chain(graph, blocks, inputs);
        foreach (var name in graph.OutputNames)
            Assert.True(Same(chained[name], full[name]), $"{name}: max difference {chained[name].sub(full[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void RunValuesComputesIntermediateValuesAndRefusesMissingOnes()
    {
        using var scope = NewDisposeScope();
        var model = miniLm.Model;
        var graph = (OnnxModule)model.Module;
        var inputs = miniLm.Encode(["A whale of a sentence."]);
        var observed = new Dictionary<string, Tensor>();
        using var noGrad = no_grad();
        var outputs = graph.RunValues(inputs, graph.OutputNames, (name, t) => observed[name] = t.clone());
        var full = graph.Run(inputs);
        foreach (var name in graph.OutputNames) Assert.True(Same(outputs[name], full[name]), name);
        // An intermediate value asked for by name is the one the full run produced.
        var blocks = OnnxBlocks.Find(graph, ["encoder.layer.3.intermediate.dense", "encoder.layer.4.attention.self.query"], inputs);
        string hidden = blocks[0].Inputs.Single();   // the feed-forward block reads only the hidden state
        var value = graph.RunValues(inputs, [hidden])[hidden];
        Assert.True(Same(value, observed[hidden]));
        // From that value alone the rest of the graph is not computable (the mask comes from a graph input) ...
        var ex = Assert.Throws<CompressException>(() => graph.RunValues(new Dictionary<string, Tensor> { [hidden] = value }, graph.OutputNames));
        Assert.Contains("neither given nor computed", ex.Message);
        // ... but it is with the graph inputs beside it, and the given value is used, not recomputed.
        var shifted = graph.RunValues(new Dictionary<string, Tensor>(inputs) { [hidden] = value.add(1) }, graph.OutputNames);
        Assert.False(Same(shifted[graph.OutputNames[0]], full[graph.OutputNames[0]]));
    }
}
