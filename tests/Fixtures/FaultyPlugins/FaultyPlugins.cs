using Compressor.Sdk.Compression;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx;
using Compressor.Sdk.Onnx.Lowerings;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Newtonsoft.Json.Linq;
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

/// <summary>Its constructor throws.</summary>
public sealed class ThrowingConstructorPlugin : CompressionPlugin<FaultOptions>
{
    /// <summary>Throws.</summary>
    public ThrowingConstructorPlugin() => throw new InvalidOperationException("constructor exploded on purpose");

    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options) => PluginResult.Of(context.Model);
}

/// <summary>Rewrites some layers (quantizing them to 8 bits with a fixed scale) and then throws mid-run.</summary>
public sealed class ThrowingRunPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        var layers = context.Model.Select(LayerKind.Linear, LayerSelector.All);
        foreach (var layer in layers.Take(options.LayersBeforeFailure))
        {
            var lin = (TorchSharp.Modules.Linear)layer.Module;
            var w = lin.weight!.detach();
            var scales = full(w.shape[0], 1, 0.01f);
            var codes = w.div(0.01).round().clamp(-128, 127).to_type(ScalarType.Int32);
            context.Model.ReplaceLayer(layer.Name, QuantizedLinear.FromCodes(codes, scales, null, 8, 0, lin.bias?.detach()));
        }
        throw new InvalidOperationException("run exploded on purpose");
    }
}

/// <summary>Writes NaN into the first linear weight.</summary>
public sealed class NanPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        var lin = (TorchSharp.Modules.Linear)context.Model.Select(LayerKind.Linear, LayerSelector.All)[0].Module;
        using (no_grad()) lin.weight![0, 0] = tensor(float.NaN);
        return PluginResult.Of(context.Model);
    }
}

/// <summary>A well-behaved plugin that changes nothing (used with a manifest for another SDK major).</summary>
public sealed class IdentityPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options) => PluginResult.Of(context.Model);
}

/// <summary>Replaces the first linear layer by <see cref="FakeQuantLinear"/>, which claims 4 bits per weight but whose
/// ONNX lowering writes float32 weights: the export's size gate must fail the run (exit code 7).</summary>
public sealed class FakeQuantPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        OnnxLoweringRegistry.Register(new FakeQuantLinear.Lowering());
        var layer = context.Model.Select(LayerKind.Linear, LayerSelector.All)[0];
        var lin = (TorchSharp.Modules.Linear)layer.Module;
        context.Model.ReplaceLayer(layer.Name, new FakeQuantLinear(lin.weight!.detach()));
        return PluginResult.Of(context.Model);
    }
}

/// <summary>A linear layer without bias that reports 4-bit storage but keeps (and exports) float32 weights.</summary>
public sealed class FakeQuantLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>The kind id.</summary>
    public const string KindId = "fixture_fake_quant_linear";

    /// <summary>Wraps a copy of <paramref name="weight"/>.</summary>
    public FakeQuantLinear(Tensor weight) : base(nameof(FakeQuantLinear)) => register_buffer("weight", weight.clone().DetachFromDisposeScope());

    private Tensor Weight => get_buffer("weight")!;

    /// <inheritdoc/>
    public string Kind => KindId;

    /// <inheritdoc/>
    public JObject Config => new();

    /// <inheritdoc/>
    public long[] DenseWeightShape => Weight.shape;

    /// <inheritdoc/>
    public Tensor DenseWeight() => Weight.clone();

    /// <inheritdoc/>
    public long WeightStorageBits => Weight.numel() * 4;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => nn.functional.linear(input, Weight);

    /// <summary>Writes the weight as float32: 8× the bytes the layer claims.</summary>
    public sealed class Lowering : IOnnxLowering
    {
        /// <inheritdoc/>
        public string LayerKind => KindId;

        /// <inheritdoc/>
        public void Lower(ILoweringContext context, nn.Module layer, string input, string output)
        {
            using var w = ((FakeQuantLinear)layer).Weight.t().contiguous();
            string name = context.UniqueName("weight_t");
            context.AddInitializer(new OnnxInitializer(name, 1, w.shape, w.bytes.ToArray()));
            context.AddNode("MatMul", [input, name], [output]);
        }
    }
}

/// <summary>Hangs: sleeps without looking at its cancellation token (for at most a minute, so test processes end).</summary>
public sealed class HangingPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        Thread.Sleep(TimeSpan.FromSeconds(60));
        return PluginResult.Of(context.Model);
    }
}

/// <summary>Works for a while but stops as soon as it is cancelled.</summary>
public sealed class CooperativeSlowPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        for (int i = 0; i < 600; i++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            Thread.Sleep(100);
        }
        return PluginResult.Of(context.Model);
    }
}

/// <summary>Ignores its <c>--include</c>/<c>--exclude</c>: replaces every linear layer by an 8-bit
/// <see cref="QuantizedLinear"/>. The host must notice the layers outside the selection and stop the run.</summary>
public sealed class IgnoresSelectionPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        foreach (var layer in context.Model.Select(LayerKind.Linear, LayerSelector.All))
        {
            var lin = (TorchSharp.Modules.Linear)layer.Module;
            var w = lin.weight!.detach();
            var scales = w.abs().amax([1], keepdim: true).div(127).clamp_min(1e-8f);
            var codes = w.div(scales).round().clamp(-128, 127).to_type(ScalarType.Int32);
            context.Model.ReplaceLayer(layer.Name, QuantizedLinear.FromCodes(codes, scales, null, 8, 0, lin.bias?.detach()));
        }
        return PluginResult.Of(context.Model);
    }
}

/// <summary>Honours its selection for the layers it replaces, but also halves, in place, the weights of every linear
/// layer outside it (no module is replaced: only the values change).</summary>
public sealed class EditsOutsideSelectionPlugin : CompressionPlugin<FaultOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, FaultOptions options)
    {
        var selector = new LayerSelector(options.Include, options.Exclude);
        foreach (var layer in context.Model.Select(LayerKind.Linear, LayerSelector.All))
            if (!selector.Matches(layer.Name))
                using (no_grad()) ((TorchSharp.Modules.Linear)layer.Module).weight!.mul_(0.5);
        return PluginResult.Of(context.Model);
    }
}
