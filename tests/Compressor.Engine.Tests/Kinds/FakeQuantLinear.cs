using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The config of <see cref="FakeQuantLinear"/>.</summary>
public sealed record FakeQuantLinearConfig(int InFeatures, int OutFeatures);

/// <summary>A linear layer without bias that reports 4-bit storage but keeps (and exports) float32 weights: the
/// export's size gate must catch it.</summary>
public sealed class FakeQuantLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>The kind id.</summary>
    public const string KindId = "test_fake_quant_linear";

    /// <summary>An empty layer.</summary>
    public FakeQuantLinear(FakeQuantLinearConfig config) : base(nameof(FakeQuantLinear))
    {
        TypedConfig = config;
        register_buffer("weight", zeros(config.OutFeatures, config.InFeatures).DetachFromDisposeScope());
    }

    /// <summary>Wraps a copy of <paramref name="weight"/> [out, in].</summary>
    public FakeQuantLinear(Tensor weight) : this(new FakeQuantLinearConfig((int)weight.shape[1], (int)weight.shape[0]))
    {
        using (no_grad()) Weight.copy_(weight);
    }

    /// <summary>The typed config.</summary>
    public FakeQuantLinearConfig TypedConfig { get; }

    /// <summary>The float weight.</summary>
    public Tensor Weight => get_buffer("weight")!;

    /// <inheritdoc/>
    public string Kind => KindId;

    /// <inheritdoc/>
    public object Config => TypedConfig;

    /// <inheritdoc/>
    public long[] DenseWeightShape => Weight.shape;

    /// <inheritdoc/>
    public Tensor DenseWeight() => Weight.clone();

    /// <inheritdoc/>
    public long WeightStorageBits => Weight.numel() * 4;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => nn.functional.linear(input, Weight);
}

/// <summary>The kind of <see cref="FakeQuantLinear"/>: writes the weight as float32, 8× the bytes the layer claims.</summary>
public sealed class FakeQuantLinearKind : LayerKind<FakeQuantLinear, FakeQuantLinearConfig>
{
    /// <inheritdoc/>
    public override string Id => FakeQuantLinear.KindId;

    /// <inheritdoc/>
    public override FakeQuantLinear Create(FakeQuantLinearConfig config) => new(config);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, FakeQuantLinear layer, string input, string output)
    {
        using var w = layer.Weight.t().contiguous();
        string name = context.UniqueName("weight_t");
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, w.shape, w.bytes.ToArray()));
        context.AddNode("MatMul", [input, name], [output]);
    }
}
