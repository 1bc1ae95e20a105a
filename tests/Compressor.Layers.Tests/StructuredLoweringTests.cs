using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Layers.Quantized;
using Compressor.Layers.Structured;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;
using Compressor.Tests.Shared;

namespace Compressor.Layers.Tests;

/// <summary>The structured-linear lowerings (low-rank, block-shuffle, block-dense, pre-merged, TopK-masked) exported
/// alone on 3-D inputs [batch, 7, N] and run in ONNX Runtime against the TorchSharp layer: rtol/atol 1e-5 (float32
/// summation order only; the products are of unit-scale values), and the float weights in the file are exactly the
/// structured parameter count.</summary>
public sealed class StructuredLoweringTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("structured-lowering-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Randomise(nn.Module layer, int seed)
    {
        var g = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var p in layer.parameters()) p.copy_(randn(p.shape, generator: g).mul(0.3));
    }

    /// <summary>Exports, checks ORT at DISABLE_ALL and BASIC against TorchSharp and the verifier; returns the float
    /// elements of the layer's initializers excluding the bias.</summary>
    private long ExportAndCheck(nn.Module layer, long n, long m, string name)
    {
        using var model = SingleLayerModel.Wrap(layer, [3, 7, n], [3, 7, m]);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, name + ".onnx"), Kinds.BuiltIn);
        using var scope = NewDisposeScope();
        var x = OnnxVerifier.SampleInput(export.Inputs[0], seed: 5);
        var expected = model.Forward(x);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_BASIC })
        {
            var (values, shape) = OnnxVerifier.Run(export, new Dictionary<string, Tensor> { [export.Inputs[0].Name] = x }, level, null)[export.Outputs[0].Name];
            Tolerances.AssertClose(expected, tensor(values).reshape(shape), rtol: 1e-5, atol: 1e-5, $"{name} at {level}");
        }
        var result = OnnxVerifier.Verify(model, export);
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        var exported = Assert.Single(export.CompressedLayers);
        return proto.Graph.Initializer.Where(t => exported.Initializers.Contains(t.Name) && t.DataType == OnnxDataType.Float && !t.Name.Contains("bias"))
            .Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
    }

    [Theory]
    [InlineData(32, 48, 8, true)]
    [InlineData(48, 32, 12, false)]
    public void LowRankIsTwoMatMulsAndMatches(int n, int m, int r, bool bias)
    {
        using var layer = new LowRankLinear(n, m, r, bias);
        Randomise(layer, n + m);
        long floats = ExportAndCheck(layer, n, m, $"lowrank-{n}-{m}");
        Assert.Equal((long)r * (n + m), floats);
    }

    [Theory]
    [InlineData(32, 64, 4)]   // N < M: W1 [B, N/B, N/B], W2 [B, M/B, N/B]
    [InlineData(64, 32, 4)]   // N > M: W1 [B, M/B, N/B], W2 [B, M/B, M/B]
    [InlineData(24, 24, 2)]
    public void BlockShuffleMatches(int n, int m, int b)
    {
        using var layer = new BlockShuffleLinear(n, m, b, hasBias: true);
        Randomise(layer, n * m + b);
        long floats = ExportAndCheck(layer, n, m, $"blockshuffle-{n}-{m}-{b}");
        Assert.Equal((long)Math.Min(n, m) * (n + m) / b, floats);
    }

    [Theory]
    [InlineData(32, 64, 16, 4)]
    [InlineData(64, 32, 24, 2)]
    public void BlockDenseMatches(int n, int m, int r, int b)
    {
        using var layer = new BlockDenseLinear(n, m, r, b, hasBias: true);
        Randomise(layer, n + r + b);
        long floats = ExportAndCheck(layer, n, m, $"blockdense-{n}-{m}-{r}-{b}");
        Assert.Equal((long)r * (n / b + m), floats);
    }

    [Fact]
    public void PreMergedFormIsOneDenseMatMulAndMatches()
    {
        using var layer = new BlockShuffleLinear(32, 64, 4, hasBias: true) { PreMerged = true };
        Randomise(layer, 11);
        long floats = ExportAndCheck(layer, 32, 64, "premerged");
        Assert.Equal(32L * 64, floats);
        Assert.Equal(32L * 32 * 64, layer.WeightStorageBits);
    }

    [Theory]
    [InlineData(true, 12)]
    [InlineData(false, 12)]
    [InlineData(true, 48)]   // keep everything: plain MatMul
    public void TopKMaskedLinearMatches(bool weighted, int keep)
    {
        var g = new Generator(3);
        using var w = randn([40, 48], generator: g).mul(randn([1, 48], generator: g).abs().add(0.2));
        using var b = randn([40], generator: g);
        using var layer = TopKMaskedLinear.FromDense(w, b, keep, weighted);
        long floats = ExportAndCheck(layer, 48, 40, $"topk-{weighted}-{keep}");
        Assert.Equal(48L * 40 + (keep < 48 ? (weighted ? 48 : 0) + 1 : 0), floats);   // weight, then (when masking) column scale and the Where zero
    }
}
