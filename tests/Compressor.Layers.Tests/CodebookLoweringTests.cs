using Compressor.Engine.Kinds;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Layers.Structured;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Tests.Shared;

namespace Compressor.Layers.Tests;

/// <summary>The codebook layers (<see cref="CodebookLayer"/> on linear and conv2d geometries) exported alone and run in
/// ONNX Runtime 1.31.1: the graph's dense weight is the TorchSharp layer's bit for bit (same fp16 → float32 gathers,
/// one float32 multiply), so the outputs agree to float32 summation order (rtol 1e-5, atol 1e-5, as the other
/// lowerings); the file's bytes stay within 1.02× the accounting of plugins/JLCM/README.md, "Memory accounting"; the
/// manifest config rebuilds the layer.</summary>
public sealed class CodebookLoweringTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("codebook-lowering-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Random sorted codebooks, scales, indices and (optionally) a row order and bias.</summary>
    private static (Tensor Indices, Tensor Codebooks, Tensor? Scales, Tensor? Order, Tensor? Bias) RandomState(long rows, long cols, int bits,
        long groups, CodebookVariant variant, bool permuted, bool bias, int seed)
    {
        var g = new Generator((ulong)seed);
        long k = 1L << bits;
        var indices = randint(0, k, [rows, cols], generator: g, dtype: ScalarType.Int64);
        var codebooks = randn([variant == CodebookVariant.Codebooks ? groups : 1, k], generator: g).sort(-1).Values;
        var scales = variant == CodebookVariant.Scales ? rand([groups], generator: g).add(0.5) : null;
        var order = permuted ? randperm(rows, generator: g) : null;
        var b = bias ? randn([rows], generator: g) : null;
        return (indices, codebooks, scales, order, b);
    }

    private void CheckAgainstOrt(nn.Module layer, long[] inputShape, long[] outputShape, string name)
    {
        using var scope = NewDisposeScope();
        var model = SingleLayerModel.Wrap(layer, inputShape, outputShape);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, name + ".onnx"), Kinds.BuiltIn);
        var x = OnnxVerifier.SampleInput(export.Inputs[0], seed: 3);
        var expected = model.Forward(x);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_BASIC })
        {
            var (values, shape) = OnnxVerifier.Run(export, new Dictionary<string, Tensor> { [export.Inputs[0].Name] = x }, level, null)[export.Outputs[0].Name];
            Tolerances.AssertClose(expected, tensor(values).reshape(shape), rtol: 1e-5, atol: 1e-5, $"{name} at {level}");
        }
        var result = OnnxVerifier.Verify(model, export);
        Assert.True(result.Passed, string.Join("; ", result.Failures));
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        Assert.DoesNotContain(proto.Graph.Initializer, t => t.DataType == OnnxDataType.Float && t.Dims.Aggregate(1L, (a, b) => a * b) >= ((CodebookLayer)layer).Rows * ((CodebookLayer)layer).Columns);
        output.WriteLine($"{name}: opset {export.Opset}, BASIC max abs {result.MaxAbsError:G3}, bytes {result.Layers.Sum(l => l.Bytes)} / theory {result.Layers.Sum(l => l.TheoreticalBytes)}");
    }

    [Theory]
    [InlineData(2, 4, CodebookVariant.Scales, false, true)]
    [InlineData(2, 3, CodebookVariant.Codebooks, true, false)]
    [InlineData(3, 5, CodebookVariant.Scales, true, true)]      // 3-bit indices packed densely, unpacked in the graph
    [InlineData(5, 2, CodebookVariant.Codebooks, false, false)] // 5-bit, dense
    [InlineData(1, 2, CodebookVariant.Scales, false, true)]     // 1-bit, dense
    [InlineData(4, 1, CodebookVariant.Codebooks, false, true)]
    [InlineData(8, 2, CodebookVariant.Scales, false, false)]
    public void CodebookLinearMatchesTorchSharpInOrt(int bits, int groups, CodebookVariant variant, bool permuted, bool bias)
    {
        var (idx, cb, s, order, b) = RandomState(48, 40, bits, groups, variant, permuted, bias, seed: bits * 10 + groups);
        using var layer = CodebookLayer.FromIndices(new LinearGeometry(40, 48, bias), bits, groups, variant, idx, cb, s, order, b);
        // The stored state reproduces the inputs: indices round-trip the packing, codebooks are the fp16 values.
        Assert.True(layer.Indices().eq(idx).all().item<bool>());
        using var dense = layer.DenseWeight();
        var rowGroups = arange(48L).mul(groups).div(48, RoundingMode.floor);
        var cb16 = cb.to_type(ScalarType.Float16).to_type(ScalarType.Float32);
        var manual = variant == CodebookVariant.Scales
            ? cb16[0].take(idx).mul(s!.to_type(ScalarType.Float16).to_type(ScalarType.Float32).take(rowGroups).unsqueeze(1))
            : cb16.reshape(-1).take(idx.add(rowGroups.mul(1L << bits).unsqueeze(1)));
        if (order is not null) manual = manual.index_select(0, order);
        Tolerances.AssertIdentical(manual, dense, "dense weight");
        CheckAgainstOrt(layer, [5, 40], [5, 48], $"codebook-linear-{bits}-{groups}-{variant}-{permuted}");

        using var rebuilt = (CodebookLayer)LayerConfigJson.CreateLike(Kinds.BuiltIn, layer);
        Assert.Equal(layer.WeightStorageBits, rebuilt.WeightStorageBits);
        Assert.Equal(layer.PackedIndices.shape, rebuilt.PackedIndices.shape);
        Assert.Equal(layer.Codebooks.shape, rebuilt.Codebooks.shape);
    }

    [Theory]
    [InlineData(2, 4, CodebookVariant.Codebooks, false)]
    [InlineData(4, 2, CodebookVariant.Scales, true)]
    public void CodebookConv2dMatchesTorchSharpInOrt(int bits, int groups, CodebookVariant variant, bool permuted)
    {
        using var conv = nn.Conv2d(4, 8, (3, 3), stride: (2, 2), padding: (1, 1));
        var (idx, cb, s, order, _) = RandomState(8, 36, bits, groups, variant, permuted, false, seed: bits + groups);
        using var layer = CodebookLayer.FromIndices(WeightGeometry.Of(conv), bits, groups, variant, idx, cb, s, order, conv.bias!.detach());
        CheckAgainstOrt(layer, [2, 4, 9, 9], [2, 8, 5, 5], $"codebook-conv-{bits}-{groups}-{variant}");
    }

    [Theory]
    [InlineData(2, 16, CodebookVariant.Scales)]
    [InlineData(2, 16, CodebookVariant.Codebooks)]
    [InlineData(4, 4, CodebookVariant.Scales)]
    [InlineData(3, 4, CodebookVariant.Scales)]        // dense 3-bit: 3 bits per index in the file, not a 4-bit container
    [InlineData(6, 4, CodebookVariant.Codebooks)]
    public void FileBytesMatchTheSection22Accounting(int bits, int groups, CodebookVariant variant)
    {
        // A MiniLM-sized FFN linear without bias: the whole .onnx file against that accounting alone.
        var (idx, cb, s, _, _) = RandomState(1536, 384, bits, groups, variant, false, false, seed: 11);
        using var layer = CodebookLayer.FromIndices(new LinearGeometry(384, 1536, false), bits, groups, variant, idx, cb, s, null, null);
        long accounted = CodebookBits.LayerBits(1536, 384, bits, groups, variant == CodebookVariant.Codebooks, explicitPermutation: false);
        Assert.Equal(accounted, layer.AccountedBits);
        Assert.Equal(accounted, layer.WeightStorageBits);
        var model = SingleLayerModel.Wrap(layer, [2, 384], [2, 1536]);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, $"size-{bits}-{groups}-{variant}.onnx"), Kinds.BuiltIn);
        long file = new FileInfo(export.ModelPath).Length;
        double ratio = file / (accounted / 8.0);
        output.WriteLine($"{bits}-bit G={groups} {variant}: file {file} bytes, §2.2 {accounted / 8} bytes, ratio {ratio:F4}");
        Assert.True(ratio <= 1.02, $"file is {ratio:F4}× the §2.2 accounting");
    }

    [Fact]
    public void AccountingFollowsSection22()
    {
        // The example of plugins/JLCM/README.md, "Memory accounting": O = 11008, I = 4096, b = 2, G = 16, one codebook
        // per group → 1024 bits overhead.
        Assert.Equal(2L * 11008 * 4096 + 1024, CodebookBits.LayerBits(11008, 4096, 2, 16, codebookPerGroup: true, explicitPermutation: false));
        Assert.Equal(2L * 11008 * 4096 + 16 * 4 + 16 * 16, CodebookBits.LayerBits(11008, 4096, 2, 16, codebookPerGroup: false, explicitPermutation: false));
        // An unfolded permutation adds O·⌈log2 O⌉ (⌈log2 11008⌉ = 14).
        Assert.Equal(11008L * 14, CodebookBits.LayerBits(11008, 4096, 2, 16, true, true) - CodebookBits.LayerBits(11008, 4096, 2, 16, true, false));
        Assert.Throws<CompressException>(() => new CodebookLayer(new CodebookFormat(2, Groups: 4, CodebookVariant.Scales, false), new LinearGeometry(4, 3, false)));
    }
}
