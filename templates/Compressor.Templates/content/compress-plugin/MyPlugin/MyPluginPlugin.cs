using Compressor.Sdk;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx.Lowerings;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace MyPlugin;

/// <summary>The <c>my-plugin</c> plugin: replaces every selected linear layer by a <see cref="ChannelQuantLinear"/>
/// (see <see cref="ChannelQuantizer"/>). The class stays thin: select layers, call the algorithm, replace, report.</summary>
public sealed class MyPluginPlugin : CompressionPlugin<MyPluginOptions>
{
    static MyPluginPlugin()
    {
        // The layer kind and its ONNX lowering, so that checkpoints reload and models export.
        CompressedLayerRegistry.Register(new ChannelQuantLinear.Factory());
        OnnxLoweringRegistry.Register(new ChannelQuantLinearLowering());
    }

    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, MyPluginOptions options)
    {
        var model = context.Model;
        var layers = model.Select(LayerKind.Linear, new LayerSelector(options.Include, options.Exclude));
        if (layers.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "my-plugin: no linear layer matches --include/--exclude");
        using var progress = context.Progress.Start("my-plugin: quantize layers", layers.Count);
        foreach (var layer in layers)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            if (layer.Module is not TorchSharp.Modules.Linear linear) continue;
            using var scope = NewDisposeScope();
            var original = linear.weight!.detach();
            var (codes, scales) = ChannelQuantizer.Quantize(original, options.Bits);
            var replacement = new ChannelQuantLinear(codes.DetachFromDisposeScope(), scales.DetachFromDisposeScope(),
                linear.bias?.detach().clone().DetachFromDisposeScope(), options.Bits);
            context.Report.AddLayer(layer.Name, replacement, original);
            replacement.to(context.Device);
            model.ReplaceLayer(layer.Name, replacement);
            progress.Advance(1, layer.Name);
        }
        context.Report.AddMetric(new Metric("layersQuantized", layers.Count, "layers"));
        return PluginResult.Of(model);
    }
}
