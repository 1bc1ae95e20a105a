using Compressor.Sdk;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using MyPlugin.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace MyPlugin.Algorithm;

/// <summary>The plugin's work on a model: every selected linear layer becomes a <see cref="ChannelQuantLinear"/>
/// holding <see cref="ChannelQuantizer"/>'s codes, with a report row (bits, SQNR) per layer.</summary>
public static class ChannelQuantization
{
    /// <summary>Rewrites <paramref name="context"/>'s model in place.</summary>
    public static void Run(PluginContext context, MyPluginOptions options)
    {
        var model = context.Model;
        var layers = model.Select(LayerType.Linear, new LayerSelector(options.Include, options.Exclude));
        if (layers.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "my-plugin: no linear layer matches --include/--exclude");
        using var progress = context.Progress.Start("my-plugin: quantize layers", layers.Count);
        foreach (var layer in layers)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            if (layer.Module is not TorchSharp.Modules.Linear linear) continue;
            using var scope = NewDisposeScope();
            var original = linear.weight!.detach();
            var (codes, scales) = ChannelQuantizer.Quantize(original, options.WeightBits);
            var replacement = new ChannelQuantLinear(codes.DetachFromDisposeScope(), scales.DetachFromDisposeScope(),
                linear.bias?.detach().clone().DetachFromDisposeScope(), options.WeightBits);
            context.Report.AddLayer(layer.Name, replacement, original);
            replacement.to(context.Device);
            model.ReplaceLayer(layer.Name, replacement);
            progress.Advance(1, layer.Name);
        }
        context.Report.AddMetric(new Metric("layersQuantized", layers.Count, "layers"));
    }
}
