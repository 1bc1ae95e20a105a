using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using TorchSharp;
using static TorchSharp.torch;

namespace FaultyPlugins;

/// <summary>Options shared by the fixtures.</summary>
public sealed record FaultOptions : PluginOptions
{
    /// <summary>How many layers to rewrite before failing.</summary>
    [Option("Layers to rewrite before failing.", Min = 0, Max = 100)]
    public int LayersBeforeFailure { get; init; } = 1;
}

/// <summary>Helpers of the fixtures.</summary>
internal static class Quantize
{
    /// <summary>An 8-bit, per-row symmetric <see cref="QuantizedLayer"/> of <paramref name="linear"/> with the given scale
    /// (null: each row's max |w| / 127).</summary>
    public static QuantizedLayer Linear8(TorchSharp.Modules.Linear linear, float? scale = null)
    {
        var w = linear.weight!.detach();
        var scales = scale is { } s ? full(w.shape[0], 1, s) : w.abs().amax([1], keepdim: true).div(127).clamp_min(1e-8f);
        var codes = w.div(scales).round().clamp(-128, 127).to_type(ScalarType.Int32);
        return QuantizedLayer.FromCodes(LinearGeometry.Of(linear), new QuantizedFormat(8, 0, true), codes, scales, null, linear.bias?.detach());
    }
}

/// <summary>Its constructor throws.</summary>
public sealed class ThrowingConstructorPlugin : CompressionPlugin<FaultOptions>
{
    /// <summary>Throws.</summary>
    public ThrowingConstructorPlugin() => throw new InvalidOperationException("constructor exploded on purpose");

    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options) { }
}

/// <summary>Its <see cref="ICompressionPlugin.LayerKinds"/> throws: the host must list it as malfunctioning, not crash.</summary>
public sealed class ThrowingLayerKindsPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    public override IReadOnlyList<ILayerKind> LayerKinds => throw new InvalidOperationException("layer kinds exploded on purpose");

    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options) { }
}

/// <summary>Declares a kind whose id, <c>quantized_linear</c>, is the layers library's own: the host must refuse the
/// plugin (malfunctioning) and keep the library's kind.</summary>
public sealed class DuplicateKindPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    public override IReadOnlyList<ILayerKind> LayerKinds { get; } = [new ShadowQuantizedLinearKind()];

    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options) { }
}

/// <summary>A kind that claims the id of the library's <c>quantized_linear</c>.</summary>
public sealed class ShadowQuantizedLinearKind : LayerKind<FakeQuantLinear, FakeQuantConfig>
{
    /// <inheritdoc/>
    public override string Id => "quantized_linear";

    /// <inheritdoc/>
    public override FakeQuantLinear Create(FakeQuantConfig config) => new(zeros(config.OutFeatures, config.InFeatures));

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, FakeQuantLinear layer, string input, string output) => FakeQuantKind.LowerAsFloat(context, layer, input, output);
}

/// <summary>Rewrites some layers (quantizing them to 8 bits with a fixed scale) and then throws mid-run.</summary>
public sealed class ThrowingRunPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        var layers = context.Model.Select(LayerType.Linear, LayerSelector.All);
        foreach (var layer in layers.Take(options.LayersBeforeFailure))
            context.Model.ReplaceLayer(layer.Name, Quantize.Linear8((TorchSharp.Modules.Linear)layer.Module, scale: 0.01f));
        throw new InvalidOperationException("run exploded on purpose");
    }
}

/// <summary>Saves an entry in its resume store (the host's folder store in the step's work folder), then fails, so that
/// the work folder stays.</summary>
public sealed class ResumeProbePlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        context.Resume.Section("probe", "v1").Save("entry", "seen", [("w", ones(2))]);
        throw new InvalidOperationException("stopped after saving resumable state");
    }
}

/// <summary>Writes NaN into the first linear weight.</summary>
public sealed class NanPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        var lin = (TorchSharp.Modules.Linear)context.Model.Select(LayerType.Linear, LayerSelector.All)[0].Module;
        using (no_grad()) lin.weight![0, 0] = tensor(float.NaN);
    }
}

/// <summary>A well-behaved plugin that changes nothing (used with manifests for other SDK versions).</summary>
public sealed class IdentityPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options) { }
}

/// <summary>Replaces the first linear layer by <see cref="FakeQuantLinear"/>, which claims 4 bits per weight but whose
/// ONNX lowering (its kind, <see cref="FakeQuantKind"/>, handed to the host) writes float32 weights: the export's size
/// gate must fail the run (exit code 7).</summary>
public sealed class FakeQuantPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    public override IReadOnlyList<ILayerKind> LayerKinds { get; } = [new FakeQuantKind()];

    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        var layer = context.Model.Select(LayerType.Linear, LayerSelector.All)[0];
        var lin = (TorchSharp.Modules.Linear)layer.Module;
        context.Model.ReplaceLayer(layer.Name, new FakeQuantLinear(lin.weight!.detach()));
    }
}

/// <summary>The config of <see cref="FakeQuantLinear"/>.</summary>
public sealed record FakeQuantConfig(long InFeatures, long OutFeatures);

/// <summary>The kind <c>fixture_fake_quant_linear</c>.</summary>
public sealed class FakeQuantKind : LayerKind<FakeQuantLinear, FakeQuantConfig>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "fixture_fake_quant_linear";

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override FakeQuantLinear Create(FakeQuantConfig config) => new(zeros(config.OutFeatures, config.InFeatures));

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, FakeQuantLinear layer, string input, string output) => LowerAsFloat(context, layer, input, output);

    /// <summary>Writes the weight as float32: 8× the bytes the layer claims.</summary>
    public static void LowerAsFloat(ILoweringContext context, FakeQuantLinear layer, string input, string output)
    {
        using var w = layer.Weight.t().contiguous();
        string name = context.UniqueName("weight_t");
        context.AddInitializer(new OnnxInitializer(name, 1, w.shape, w.bytes.ToArray()));
        context.AddNode("MatMul", [input, name], [output]);
    }
}

/// <summary>A linear layer without bias that reports 4-bit storage but keeps (and exports) float32 weights.</summary>
public sealed class FakeQuantLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Wraps a copy of <paramref name="weight"/>.</summary>
    public FakeQuantLinear(Tensor weight) : base(nameof(FakeQuantLinear)) => register_buffer("weight", weight.clone().DetachFromDisposeScope());

    /// <summary>The float weight [out, in].</summary>
    public Tensor Weight => get_buffer("weight")!;

    /// <inheritdoc/>
    public string Kind => FakeQuantKind.KindId;

    /// <inheritdoc/>
    public object Config => new FakeQuantConfig(Weight.shape[1], Weight.shape[0]);

    /// <inheritdoc/>
    public long[] DenseWeightShape => Weight.shape;

    /// <inheritdoc/>
    public Tensor DenseWeight() => Weight.clone();

    /// <inheritdoc/>
    public long WeightStorageBits => Weight.numel() * 4;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => nn.functional.linear(input, Weight);
}

/// <summary>Hangs: sleeps without looking at its cancellation token (for at most a minute, so test processes end).</summary>
public sealed class HangingPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options) => Thread.Sleep(TimeSpan.FromSeconds(60));
}

/// <summary>Works for a while but stops as soon as it is cancelled.</summary>
public sealed class CooperativeSlowPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        for (int i = 0; i < 600; i++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            Thread.Sleep(100);
        }
    }
}

/// <summary>Ignores its <c>--include</c>/<c>--exclude</c>: replaces every linear layer by an 8-bit
/// <see cref="QuantizedLayer"/>. The host must notice the layers outside the selection and stop the run.</summary>
public sealed class IgnoresSelectionPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        foreach (var layer in context.Model.Select(LayerType.Linear, LayerSelector.All))
            context.Model.ReplaceLayer(layer.Name, Quantize.Linear8((TorchSharp.Modules.Linear)layer.Module));
    }
}

/// <summary>Honours its selection for the layers it replaces, but also halves, in place, the weights of every linear
/// layer outside it (no module is replaced: only the values change).</summary>
public sealed class EditsOutsideSelectionPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, FaultOptions options)
    {
        var selector = new LayerSelector(options.Include, options.Exclude);
        foreach (var layer in context.Model.Select(LayerType.Linear, LayerSelector.All))
            if (!selector.Matches(layer.Name))
                using (no_grad()) ((TorchSharp.Modules.Linear)layer.Module).weight!.mul_(0.5);
    }
}
