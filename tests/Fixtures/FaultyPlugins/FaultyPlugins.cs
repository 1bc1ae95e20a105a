using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
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
