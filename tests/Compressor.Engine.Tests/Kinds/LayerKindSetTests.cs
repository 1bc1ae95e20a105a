using Compressor.Engine.Kinds;
using Compressor.Sdk.Layers;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The set of layer kinds a run is handed: ids unique, unknown ids a one-line error naming what is known.</summary>
public sealed class LayerKindSetTests
{
    /// <summary>A second kind claiming the id of <see cref="TestQuantizedLinearKind"/>.</summary>
    private sealed class ImpostorKind : LayerKind<TestQuantizedLinear, TestQuantizedLinearConfig>
    {
        public override string Id => TestQuantizedLinear.KindId;

        public override TestQuantizedLinear Create(TestQuantizedLinearConfig config) => new(config);

        public override void Lower(ILoweringContext context, TestQuantizedLinear layer, string input, string output) =>
            throw new NotSupportedException();
    }

    [Fact]
    public void IdsAreSortedAndKindsKeepTheirOrder()
    {
        var linear = new TestQuantizedLinearKind();
        var conv = new TestQuantizedConv2dKind();
        var set = new LayerKindSet([linear, conv]);
        Assert.Equal([TestQuantizedConv2d.KindId, TestQuantizedLinear.KindId], set.Ids);
        Assert.Equal<ILayerKind>([linear, conv], set);
        Assert.Same(conv, set.Get(TestQuantizedConv2d.KindId));
        Assert.True(set.TryGet(TestQuantizedLinear.KindId, out var found));
        Assert.Same(linear, found);
        Assert.False(set.Contains("nope"));
        Assert.Equal(2, set.Count);
    }

    [Fact]
    public void ADuplicateIdIsOneLineNamingBothTypes()
    {
        var e = Assert.Throws<CompressException>(() => new LayerKindSet([new TestQuantizedLinearKind(), new ImpostorKind()]));
        Assert.Equal(ErrorKind.PluginUnavailable, e.Kind);
        Assert.Equal($"compressed layer kind '{TestQuantizedLinear.KindId}' is declared twice: by {typeof(TestQuantizedLinearKind).FullName} (Compressor.Engine.Tests) " +
                     $"and by {typeof(ImpostorKind).FullName} (Compressor.Engine.Tests)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // Two instances of one type are two declarations too; the same instance twice is one.
        Assert.Throws<CompressException>(() => new LayerKindSet([new TestQuantizedLinearKind(), new TestQuantizedLinearKind()]));
        var kind = new TestQuantizedLinearKind();
        Assert.Single(new LayerKindSet([kind, kind]));
    }

    [Fact]
    public void AnUnknownKindNamesTheKnownOnes()
    {
        var e = Assert.Throws<CompressException>(() => TestKinds.All.Get("mystery_linear"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Equal("unknown compressed layer kind 'mystery_linear' (is the plugin that produced it installed? known: "
                     + $"{FakeQuantLinear.KindId}, {TestQuantizedConv2d.KindId}, {TestQuantizedLinear.KindId})", e.Message);
        var none = Assert.Throws<CompressException>(() => LayerKindSet.Empty.Get("x"));
        Assert.Equal("unknown compressed layer kind 'x' (is the plugin that produced it installed? known: none)", none.Message);
        Assert.Empty(LayerKindSet.Empty.Ids);
    }

    [Fact]
    public void WithAddsKindsToANewSetAndChecksIds()
    {
        var first = new LayerKindSet([new TestQuantizedLinearKind()]);
        var both = first.With([new TestQuantizedConv2dKind()]);
        Assert.Equal([TestQuantizedLinear.KindId], first.Ids);
        Assert.Equal([TestQuantizedConv2d.KindId, TestQuantizedLinear.KindId], both.Ids);
        var e = Assert.Throws<CompressException>(() => both.With([new ImpostorKind()]));
        Assert.Contains("is declared twice", e.Message);
    }
}
