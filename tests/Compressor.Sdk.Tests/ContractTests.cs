using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Tests;

/// <summary>The contract's own behaviour: version compatibility, layer selection, the layer-kind base's dispatch, the
/// model's plain services, the report's SQNR and the shared training helpers.</summary>
public sealed class ContractTests
{
    /// <summary>A host runs plugins of its major whose minor is not newer than its own (they may use what that minor added).</summary>
    [Theory]
    [InlineData("2.0.0", "2.0.0", true)]
    [InlineData("2.0.7", "2.0.0", true)]       // a patch never matters
    [InlineData("2.0.0-beta.1", "2.0.0", true)]
    [InlineData("2.0.0", "2.3.1", true)]       // an older minor runs on a newer host
    [InlineData("2.1.0", "2.0.0", false)]      // a newer minor needs a newer host
    [InlineData("1.9.2", "2.0.0", false)]
    [InlineData("3.0.0", "2.0.0", false)]
    [InlineData("two", "2.0.0", false)]
    public void PluginsOfTheSameMajorAndAnOlderOrEqualMinorAreCompatible(string plugin, string host, bool compatible)
    {
        Assert.Equal(compatible, SdkInfo.IsCompatible(plugin, host, out var why));
        Assert.Equal(compatible, why.Length == 0);
        if (!compatible) Assert.DoesNotContain('\n', why);
        if (plugin == "2.1.0") Assert.Contains("update compress", why);
    }

    [Fact]
    public void TheVersionIsTheAssemblysOwn()
    {
        var v = typeof(SdkInfo).Assembly.GetName().Version!;
        Assert.Equal($"{v.Major}.{v.Minor}.{v.Build}", SdkInfo.Version);
        Assert.True(SdkInfo.IsCompatible(SdkInfo.Version, out _));
    }

    [Theory]
    [InlineData("blocks.0.mlp.fc1", true)]
    [InlineData("blocks.10.attn.qkv", false)]
    [InlineData("head", false)]
    public void LayerSelectorGlobs(string name, bool selected)
    {
        var s = new LayerSelector(["blocks.*"], ["*.attn.*"]);
        Assert.Equal(selected, s.Matches(name));
        Assert.True(LayerSelector.All.Matches(name));
    }

    private sealed record ScaleConfig(long Features);

    /// <summary>A minimal third-party kind: y = x·s with a learned per-feature scale.</summary>
    private sealed class ScaleLayer(long features) : nn.Module<Tensor, Tensor>("scale"), ICompressedLayer
    {
        public string Kind => "test.scale";
        public object Config => new ScaleConfig(features);
        public long[] DenseWeightShape => [features];
        public Tensor DenseWeight() => ones(features);
        public long WeightStorageBits => 32 * features;
        public override Tensor forward(Tensor input) => input.alias();
    }

    private sealed class ScaleKind : LayerKind<ScaleLayer, ScaleConfig>
    {
        public override string Id => "test.scale";
        public override ScaleLayer Create(ScaleConfig config) => new(config.Features);
        public override void Lower(ILoweringContext context, ScaleLayer layer, string input, string output) => context.AddNode("Identity", [input], [output]);
    }

    /// <summary>The typed base dispatches configs and layers of its own types and refuses others in one line.</summary>
    [Fact]
    public void LayerKindDispatchesItsOwnTypesAndRefusesOthers()
    {
        ILayerKind kind = new ScaleKind();
        Assert.Equal(typeof(ScaleConfig), kind.ConfigType);
        Assert.Equal(1, kind.ConfigVersion);
        using var layer = kind.Create(new ScaleConfig(3));
        Assert.Equal(new long[] { 3 }, ((ICompressedLayer)layer).DenseWeightShape);
        var e = Assert.Throws<CompressException>(() => kind.Create("not a config"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("ScaleConfig", e.Message);
    }

    /// <summary>A plain model wraps any one-tensor module: it runs, feeds a batch as its one input, lists and replaces
    /// layers under containers, and says plainly what it cannot do (copies, blocks, named values).</summary>
    [Fact]
    public void APlainModelRunsAndReplacesLayersAndRefusesWhatItCannotDo()
    {
        using var model = TinyModels.Mlp(seed: 2, hidden: [8]);
        using var x = TinyModels.Inputs([3, 64]);
        Assert.True(model.IsExecutable);
        var feed = model.Feed(x);
        Assert.Equal([CompressibleModel.SingleInputName], feed.Keys);
        using (var y = model.Forward(x)) Assert.Equal(new long[] { 3, 10 }, y.shape);
        var linears = model.Select(LayerType.Linear, LayerSelector.All);
        Assert.Equal(2, linears.Count);
        model.ReplaceLayer(linears[0].Name, new ScaleLayer(64));
        Assert.Single(model.CompressedLayers());
        Assert.Equal(LayerType.Compressed, model.Layers().First(l => l.Name == linears[0].Name).Type);

        using var plain = new CompressibleModel(nn.Linear(4, 2), "linear");
        Assert.Null(plain.Transformer);
        Assert.Null(plain.FindBlocks(["x"], new Dictionary<string, Tensor>()));
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<CompressException>(() => plain.FrozenCopy()).Kind);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<CompressException>(() => plain.RunValues(new Dictionary<string, Tensor>(), ["y"])).Kind);
        Assert.Throws<InvalidOperationException>(() => plain.ReplaceLayer("weight", new ScaleLayer(4)));
    }

    /// <summary>SQNR is 20·log10(‖x‖/‖x − y‖): a uniform b-bit grid gains about 6.02 dB per bit.</summary>
    [Fact]
    public void SqnrGrowsSixDecibelsPerBit()
    {
        using var scope = NewDisposeScope();
        var x = rand(100_000, generator: new Generator(4)).mul(2).sub(1);
        double Db(int bits)
        {
            double step = 2.0 / (1 << bits);
            return Sqnr.Db(x, x.div(step).floor().add(0.5).mul(step));
        }
        double gain = Db(8) - Db(4);
        Assert.InRange(gain / 4, 6.02 - 0.1, 6.02 + 0.1);
        Assert.Equal(double.PositiveInfinity, Sqnr.Db(x, x));
    }

    [Fact]
    public void LearningRateScheduleWarmsUpThenDecaysToTheFloor()
    {
        var s = new LearningRateSchedule(PeakRate: 1.0, WarmupFraction: 0.1, MinRateRatio: 0.01);
        Assert.Equal(0.1, s.At(0, 100), 9);
        Assert.Equal(1.0, s.At(9, 100), 9);
        Assert.Equal(1.0, s.At(10, 100), 9);
        // Half-way through the decay (step 54.5 of 10..99) the cosine is at its midpoint, (1 + 0.01) / 2.
        Assert.InRange(s.At(54, 100), 0.505, 0.53);
        Assert.InRange(s.At(55, 100), 0.48, 0.505);
        for (int i = 11; i < 100; i++) Assert.True(s.At(i, 100) < s.At(i - 1, 100));
        Assert.Equal(0.01, s.At(99, 100), 9);
    }

    /// <summary>The task loss is cross-entropy per sample for images and per token for tokens.</summary>
    [Fact]
    public void TaskLossIsCrossEntropyOfTheTask()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, 0, 0, 0, 2, 0 }).reshape(2, 3);
        var labels = tensor(new long[] { 0, 2 });
        double expected = (-Math.Log(Math.Exp(2) / (Math.Exp(2) + 2)) - Math.Log(1 / (Math.Exp(2) + 2))) / 2;
        Assert.Equal(expected, TaskLoss.Of(logits, labels, Data.DataKind.Images).item<float>(), 5);
        Assert.Equal(expected, TaskLoss.Of(logits.unsqueeze(0), labels.unsqueeze(0), Data.DataKind.Tokens).item<float>(), 5);
    }

    /// <summary>An entry read back from a resume store owns its tensors.</summary>
    [Fact]
    public void AResumeEntryDisposesItsTensors()
    {
        var t = ones(2);
        new ResumeEntry("{}", new Dictionary<string, Tensor> { ["t"] = t }).Dispose();
        Assert.True(t.IsInvalid);
    }
}
