using System.Text.Json.Nodes;
using Compressor.Engine.Kinds;
using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Layers.Structured;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace Compressor.Layers.Tests;

/// <summary>The library's kinds as declared: one per representation × geometry with the ids of format 1, configs that
/// survive the file form, format-1 configs (written before SDK 2.0, copied from the checkpoints in
/// tests/Fixtures/Format1) read into the same layers, and one geometry code path for every representation.</summary>
public sealed class LayerKindTests
{
    [Fact]
    public void BuiltInKindsHaveTheFormatOneIds()
    {
        Assert.Equal(
            ["quantized_linear", "quantized_conv2d", "quantized_embedding", "codebook_linear", "codebook_conv2d",
             "lowrank_linear", "blockshuffle_linear", "blockdense_linear", "topk_masked_linear",
             "integer_linear", "integer_conv2d"],   // added by issue 18 (W8A8); every earlier id is unchanged
            BuiltInLayerKinds.All.Select(k => k.Id));
        Assert.Equal(BuiltInLayerKinds.All.Count, new LayerKindSet(BuiltInLayerKinds.All).Count);   // no duplicate id
    }

    public static TheoryData<string> Layers() => [.. SampleLayers().Keys];

    /// <summary>One layer of every built-in kind and geometry, with random state.</summary>
    private static Dictionary<string, Func<ICompressedLayer>> SampleLayers()
    {
        static Tensor Codes(long rows, long cols, int bits, bool signed)
        {
            var g = new Generator(5);
            long lo = signed ? -(1L << (bits - 1)) : 0, hi = signed ? (1L << (bits - 1)) : 1L << bits;
            return randint(lo, hi, [rows, cols], generator: g, dtype: ScalarType.Int32);
        }
        ICompressedLayer Quantized(WeightGeometry geometry, int bits, int group, bool symmetric)
        {
            long groups = Packing.GroupQuantization.GroupCount(geometry.Columns, group);
            var zp = symmetric ? null : Codes(geometry.Rows, groups, bits, false);
            return QuantizedLayer.FromCodes(geometry, new QuantizedFormat(bits, group, symmetric), Codes(geometry.Rows, geometry.Columns, bits, symmetric),
                rand(geometry.Rows, groups).add(0.01), zp, geometry.HasBias ? randn(geometry.Rows) : null);
        }
        ICompressedLayer Codebook(WeightGeometry geometry, int bits, long groups, CodebookVariant variant, bool permuted)
        {
            long k = 1L << bits;
            return CodebookLayer.FromIndices(geometry, bits, groups, variant, randint(0, k, [geometry.Rows, geometry.Columns], dtype: ScalarType.Int64),
                randn(variant == CodebookVariant.Codebooks ? groups : 1, k).sort(-1).Values, variant == CodebookVariant.Scales ? rand(groups).add(0.5) : null,
                permuted ? randperm(geometry.Rows) : null, geometry.HasBias ? randn(geometry.Rows) : null);
        }
        var conv = new Conv2dGeometry(4, 6, [3, 3], [2, 2], [1, 1], [1, 1], 2, true);
        return new Dictionary<string, Func<ICompressedLayer>>
        {
            ["quantized linear 4-bit g16 sym"] = () => Quantized(new LinearGeometry(32, 10, true), 4, 16, true),
            ["quantized linear 2-bit asym"] = () => Quantized(new LinearGeometry(32, 10, false), 2, 0, false),
            ["quantized conv2d 8-bit grouped conv"] = () => Quantized(conv, 8, 0, true),
            ["quantized conv2d 4-bit g6 asym"] = () => Quantized(conv, 4, 6, false),
            ["quantized embedding 4-bit g8"] = () => Quantized(new EmbeddingGeometry(40, 16), 4, 8, true),
            ["codebook linear 2-bit scales"] = () => Codebook(new LinearGeometry(32, 10, true), 2, 4, CodebookVariant.Scales, false),
            ["codebook linear 3-bit codebooks permuted"] = () => Codebook(new LinearGeometry(32, 10, false), 3, 2, CodebookVariant.Codebooks, true),
            ["quantized linear 3-bit g16 asym (dense)"] = () => Quantized(new LinearGeometry(32, 10, true), 3, 16, false),
            ["quantized conv2d 5-bit sym (dense)"] = () => Quantized(conv, 5, 0, true),
            ["codebook conv2d 4-bit"] = () => Codebook(conv, 4, 3, CodebookVariant.Scales, true),
            ["low-rank"] = () => new LowRankLinear(32, 16, 4, true) { PreMerged = true },
            ["block-shuffle"] = () => new BlockShuffleLinear(32, 16, 4, false),
            ["block-dense"] = () => new BlockDenseLinear(32, 16, 8, 4, true),
            ["top-k masked (WINA)"] = () => TopKMaskedLinear.FromDense(randn(16, 32), randn(16), 8, weighted: true),
        };
    }

    /// <summary>A layer's config written in the file form and read back rebuilds a layer of the same kind, config,
    /// tensor names and shapes, and storage; loading the original's tensors into it reproduces its dense weight exactly.</summary>
    [Theory]
    [MemberData(nameof(Layers))]
    public void ConfigsSurviveTheFileForm(string name)
    {
        var kinds = new LayerKindSet(BuiltInLayerKinds.All);
        var layer = SampleLayers()[name]();
        var module = (nn.Module)layer;
        using (module)
        {
            Assert.IsType(kinds.Get(layer.Kind).ConfigType, layer.Config);
            var json = LayerConfigJson.Write(layer);
            using var rebuilt = LayerConfigJson.Create(kinds, layer.Kind, kinds.Get(layer.Kind).ConfigVersion, json);
            var copy = (ICompressedLayer)rebuilt;
            Assert.Equal(layer.Kind, copy.Kind);
            Assert.Equal(json.ToJsonString(), LayerConfigJson.Write(copy).ToJsonString());
            Assert.Equal(layer.WeightStorageBits, copy.WeightStorageBits);
            var source = module.state_dict();
            var target = rebuilt.state_dict();
            Assert.Equal(source.Keys.Order(), target.Keys.Order());
            using (no_grad())
                foreach (var (key, t) in source) target[key].copy_(t);
            using var a = layer.DenseWeight();
            using var b = copy.DenseWeight();
            Tolerances.AssertIdentical(a, b, $"{name}: dense weight after reload");
        }
    }

    /// <summary>Configs as the tool wrote them before SDK 2.0 (format 1, no config version; copied from
    /// tests/Fixtures/Format1) are read into layers of the same shapes. quantized_conv2d called its convolution groups
    /// <c>groups</c> then; version 2 calls them <c>convGroups</c>, as codebook_conv2d always did.</summary>
    [Theory]
    [InlineData("quantized_linear", """{"bits":4,"groupSize":8,"symmetric":false,"bias":true,"inFeatures":64,"outFeatures":24}""", 24, 64)]
    [InlineData("quantized_conv2d", """{"bits":4,"groupSize":4,"symmetric":true,"bias":true,"inChannels":4,"outChannels":8,"kernel":[3,3],"stride":[1,1],"padding":[1,1],"dilation":[1,1],"groups":2}""", 8, 18)]
    [InlineData("quantized_embedding", """{"bits":4,"groupSize":8,"symmetric":true,"bias":false,"numEmbeddings":40,"embeddingDim":16}""", 40, 16)]
    [InlineData("codebook_linear", """{"bits":2,"groups":4,"variant":"scales","permuted":true,"bias":true,"inFeatures":64,"outFeatures":24}""", 24, 64)]
    [InlineData("codebook_conv2d", """{"bits":3,"groups":4,"variant":"codebooks","permuted":false,"bias":true,"inChannels":1,"outChannels":4,"kernel":[3,3],"stride":[1,1],"padding":[1,1],"dilation":[1,1],"convGroups":1}""", 4, 9)]
    [InlineData("lowrank_linear", """{"inFeatures":32,"outFeatures":64,"bias":true,"preMerged":false,"rank":16}""", 64, 32)]
    [InlineData("blockshuffle_linear", """{"inFeatures":16,"outFeatures":64,"bias":true,"preMerged":false,"blocks":2}""", 64, 16)]
    [InlineData("blockdense_linear", """{"inFeatures":16,"outFeatures":64,"bias":true,"preMerged":false,"rank":8,"blocks":4}""", 64, 16)]
    [InlineData("topk_masked_linear", """{"inFeatures":32,"outFeatures":64,"keep":16,"weighted":true,"bias":true}""", 64, 32)]
    public void FormatOneConfigsLoad(string kind, string json, long rows, long columns)
    {
        var kinds = new LayerKindSet(BuiltInLayerKinds.All);
        using var layer = LayerConfigJson.Create(kinds, kind, configVersion: 1, (JsonObject)JsonNode.Parse(json)!);
        var compressed = (ICompressedLayer)layer;
        Assert.Equal(kind, compressed.Kind);
        var shape = compressed.DenseWeightShape;
        Assert.Equal(rows, shape[0]);
        Assert.Equal(columns, shape.Skip(1).Aggregate(1L, (a, b) => a * b));
        if (layer is QuantizedLayer { Geometry: Conv2dGeometry conv }) Assert.Equal(2, conv.ConvGroups);
        if (layer is CodebookLayer codebook)
        {
            Assert.Equal(IndexPacking.Containers, codebook.Format.Packing);
            Assert.Equal(Packing.CodebookBits.ContainerBits(codebook.IndexBits), codebook.ContainerBits);
        }
        // Written again, the config has format 1's fields and nothing more (conv groups are convGroups since version 2;
        // an embedding has no bias field).
        // Codebook configs gained "packing" in version 2; version 1 is upgraded to "containers" (3-bit indices in 4 bits).
        var expected = JsonNode.Parse(json)!.AsObject().Select(kv => kv.Key == "groups" && kind == "quantized_conv2d" ? "convGroups" : kv.Key)
            .Where(k => !(kind == "quantized_embedding" && k == "bias"))
            .Concat(kind.StartsWith("codebook_", StringComparison.Ordinal) ? ["packing"] : []).Order(StringComparer.Ordinal);
        Assert.Equal(expected, LayerConfigJson.Write(compressed).Select(kv => kv.Key).Order(StringComparer.Ordinal));
    }

    /// <summary>A config that does not describe a layer is refused with one line naming the kind.</summary>
    [Theory]
    [InlineData("quantized_linear", """{"bits":9,"groupSize":8,"symmetric":true,"bias":true,"inFeatures":64,"outFeatures":24}""", "9-bit")]
    [InlineData("quantized_linear", """{"bits":4,"groupSize":8,"symmetric":true,"bias":true,"inFeatures":64}""", "outFeatures")]
    [InlineData("quantized_conv2d", """{"bits":8,"groupSize":0,"symmetric":true,"bias":false,"inChannels":3,"outChannels":8,"kernel":[3,3],"stride":[1,1],"padding":[1,1],"dilation":[1,1],"convGroups":2}""", "groups 2")]
    [InlineData("codebook_linear", """{"bits":2,"groups":40,"variant":"scales","permuted":false,"bias":true,"inFeatures":8,"outFeatures":24}""", "40 groups")]
    [InlineData("codebook_linear", """{"bits":2,"groups":4,"variant":"lookup","permuted":false,"bias":true,"inFeatures":8,"outFeatures":24}""", "codebook_linear")]
    public void InvalidConfigsAreRefusedInOneLine(string kind, string json, string expected)
    {
        var kinds = new LayerKindSet(BuiltInLayerKinds.All);
        var e = Assert.Throws<CompressException>(() => LayerConfigJson.Create(kinds, kind, kinds.Get(kind).ConfigVersion, (JsonObject)JsonNode.Parse(json)!));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>A representation is written once for every geometry: the same codes applied as a linear, a convolution
    /// and an embedding compute what the dense weight computes through TorchSharp's own layers.</summary>
    [Fact]
    public void OneRepresentationServesEveryGeometry()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var conv = nn.Conv2d(4, 6, (3, 3), stride: (1, 1), padding: (1, 1));
        var linear = nn.Linear(36, 6);
        var embedding = nn.Embedding(6, 36);
        foreach (var module in new nn.Module[] { conv, linear, embedding })
        {
            var geometry = WeightGeometry.Of(module);
            var codes = randint(-8, 8, [geometry.Rows, geometry.Columns], dtype: ScalarType.Int32);
            var layer = QuantizedLayer.FromCodes(geometry, new QuantizedFormat(4, 0, true), codes, rand(geometry.Rows, 1).add(0.01), null,
                geometry.HasBias ? randn(geometry.Rows) : null);
            var w = layer.DenseWeight();
            Tensor x, expected;
            switch (module)
            {
                case TorchSharp.Modules.Conv2d:
                    x = randn(2, 4, 5, 5);
                    expected = nn.functional.conv2d(x, w, layer.Bias, [1, 1], [1, 1]);
                    break;
                case TorchSharp.Modules.Linear:
                    x = randn(3, 36);
                    expected = nn.functional.linear(x, w, layer.Bias);
                    break;
                default:
                    x = tensor(new long[] { 0, 5, 2, 2 }).reshape(2, 2);
                    expected = w.index_select(0, x.flatten()).reshape(2, 2, 36);
                    break;
            }
            Tolerances.AssertClose(expected, layer.forward(x), rtol: 1e-6, atol: 1e-6, geometry.Id);
            Assert.Equal("quantized_" + geometry.Id, layer.Kind);
            layer.Dispose();
        }
    }
}
