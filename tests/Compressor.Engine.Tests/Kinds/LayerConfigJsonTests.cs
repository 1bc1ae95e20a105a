using System.Text.Json.Nodes;
using Compressor.Engine.Kinds;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The file form of layer configs: camelCase System.Text.Json, enums as camelCase strings, required and
/// non-nullable members enforced, unknown members skipped, older config versions upgraded by their kind, newer ones
/// refused, every problem one line naming the layer and its kind.</summary>
public sealed class LayerConfigJsonTests
{
    public enum Rounding { NearestEven, TowardZero }

    public sealed record TaggedConfig(int Width, Rounding Rounding, string Label, string? Note = null);

    /// <summary>A layer whose config has an enum, a non-nullable string and an optional one.</summary>
    public sealed class TaggedLayer(TaggedConfig config) : nn.Module<Tensor, Tensor>(nameof(TaggedLayer)), ICompressedLayer
    {
        public string Kind => "test_tagged";

        public object Config => config;

        public long[] DenseWeightShape => [config.Width, config.Width];

        public Tensor DenseWeight() => eye(config.Width);

        public long WeightStorageBits => 0;

        public override Tensor forward(Tensor input) => input.alias();
    }

    public sealed class TaggedKind : LayerKind<TaggedLayer, TaggedConfig>
    {
        public override string Id => "test_tagged";

        public override TaggedLayer Create(TaggedConfig config) => new(config);

        public override void Lower(ILoweringContext context, TaggedLayer layer, string input, string output) => throw new NotSupportedException();
    }

    private static readonly LayerKindSet Kinds = new([new TaggedKind(), new TestQuantizedLinearKind()]);

    [Fact]
    public void ConfigsRoundTripAsCamelCaseJsonWithEnumsAsStrings()
    {
        using var layer = new TaggedLayer(new TaggedConfig(4, Rounding.TowardZero, "x", Note: null));
        var json = LayerConfigJson.Write(layer);
        Assert.Equal("""{"width":4,"rounding":"towardZero","label":"x","note":null}""", json.ToJsonString());
        Assert.Equal(layer.Config, LayerConfigJson.ReadConfig(Kinds, "test_tagged", 1, json));
        using var rebuilt = LayerConfigJson.Create(Kinds, "test_tagged", 1, json, "blocks.0");
        Assert.Equal(layer.Config, Assert.IsType<TaggedLayer>(rebuilt).Config);

        using var quantized = TestQuantizedLinear.Quantize(randn(6, 8), randn(6), bits: 4, groupSize: 4);
        using var like = Assert.IsType<TestQuantizedLinear>(LayerConfigJson.CreateLike(Kinds, quantized, "fc"));
        Assert.Equal(quantized.TypedConfig, like.TypedConfig);
        Assert.Equal(quantized.Codes.shape, like.Codes.shape);
        Assert.Equal(quantized.Scales.shape, like.Scales.shape);
    }

    [Fact]
    public void UnknownMembersAreSkippedAndOptionalOnesDefault()
    {
        var json = JsonNode.Parse("""{"width":2,"rounding":"nearestEven","label":"y","fromTheFuture":[1,2]}""")!.AsObject();
        Assert.Equal(new TaggedConfig(2, Rounding.NearestEven, "y"), LayerConfigJson.ReadConfig(Kinds, "test_tagged", 1, json));
    }

    [Theory]
    [InlineData("""{"rounding":"nearestEven","label":"y"}""", "missing required properties including: 'width'")]
    [InlineData("""{"width":"two","rounding":"nearestEven","label":"y"}""", "$.width")]
    [InlineData("""{"width":2,"rounding":"upward","label":"y"}""", "$.rounding")]
    [InlineData("""{"width":2,"rounding":1,"label":"y"}""", "$.rounding")]
    [InlineData("""{"width":2,"rounding":"nearestEven","label":null}""", "label")]
    public void AnInvalidConfigIsOneLineNamingTheLayerAndKind(string config, string detail)
    {
        var json = JsonNode.Parse(config)!.AsObject();
        var e = Assert.Throws<CompressException>(() => LayerConfigJson.Create(Kinds, "test_tagged", 1, json, "blocks.3.fc"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.StartsWith("compressed layer 'blocks.3.fc' (kind test_tagged): invalid config: ", e.Message);
        Assert.Contains(detail, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AConfigTheFactoryRefusesIsAnInvalidConfig()
    {
        var json = JsonNode.Parse("""{"inFeatures":8,"outFeatures":4,"bits":3,"groupSize":0,"bias":false}""")!.AsObject();
        var e = Assert.Throws<CompressException>(() => LayerConfigJson.Create(Kinds, TestQuantizedLinear.KindId, 2, json, "fc"));
        Assert.Equal($"compressed layer 'fc' (kind {TestQuantizedLinear.KindId}): invalid config: bits must be 8, 4 or 2, got 3", e.Message);
    }

    [Fact]
    public void AnOlderConfigVersionIsUpgradedByItsKindWithoutTouchingTheInput()
    {
        var kind = new TestQuantizedLinearKind();
        var kinds = new LayerKindSet([kind]);
        var v1 = JsonNode.Parse("""{"inFeatures":8,"outFeatures":4,"bits":4,"group":4,"bias":true}""")!.AsObject();
        string before = v1.ToJsonString();
        using var layer = Assert.IsType<TestQuantizedLinear>(LayerConfigJson.Create(kinds, TestQuantizedLinear.KindId, 1, v1, "fc"));
        Assert.Equal(new TestQuantizedLinearConfig(8, 4, 4, 4, true), layer.TypedConfig);
        Assert.Equal(1, kind.Upgrades);
        Assert.Equal(before, v1.ToJsonString());
        // The current version is read as it is.
        var v2 = LayerConfigJson.Write(layer);
        LayerConfigJson.Create(kinds, TestQuantizedLinear.KindId, 2, v2, "fc").Dispose();
        Assert.Equal(1, kind.Upgrades);
        // Without the upgrade, the version-1 form misses the group size.
        var e = Assert.Throws<CompressException>(() => LayerConfigJson.Create(kinds, TestQuantizedLinear.KindId, 2, v1, "fc"));
        Assert.Contains("invalid config", e.Message);
        Assert.Contains("groupSize", e.Message);
    }

    [Fact]
    public void ANewerConfigVersionIsRefused()
    {
        var json = JsonNode.Parse("""{"inFeatures":8,"outFeatures":4,"bits":4,"groupSize":4,"bias":true}""")!.AsObject();
        var e = Assert.Throws<CompressException>(() => LayerConfigJson.Create(Kinds, TestQuantizedLinear.KindId, 3, json, "fc"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Equal($"compressed layer 'fc' (kind {TestQuantizedLinear.KindId}): config version 3 is newer than this tool's (2); update compress", e.Message);
        var zero = Assert.Throws<CompressException>(() => LayerConfigJson.Create(Kinds, TestQuantizedLinear.KindId, 0, json));
        Assert.Equal($"compressed layer of kind '{TestQuantizedLinear.KindId}': config version 0 is not valid (versions start at 1)", zero.Message);
        var unknown = Assert.Throws<CompressException>(() => LayerConfigJson.Create(Kinds, "mystery", 1, json, "fc"));
        Assert.StartsWith("unknown compressed layer kind 'mystery'", unknown.Message);
    }
}
