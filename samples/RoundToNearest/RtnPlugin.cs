using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest;

/// <summary>The <c>rtn</c> plugin: replaces every selected linear and conv layer by a <see cref="QuantizedLinear"/> /
/// <see cref="QuantizedConv2d"/> holding round-to-nearest integer codes. Data-free; works on weights-only models.</summary>
public sealed class RtnPlugin : CompressionPlugin<RtnOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, RtnOptions options)
    {
        var model = context.Model;
        var layers = model.Select(LayerKind.Linear | LayerKind.Conv2d, new LayerSelector(options.Include, options.Exclude));
        if (layers.Count == 0)
            throw new CompressException(ErrorKind.InvalidOptions, "rtn: no linear or conv layer matches --include/--exclude");
        context.Log.Info($"rtn: {layers.Count} layer(s), {options.WeightBits}-bit {options.Scheme.ToString().ToLowerInvariant()}, group size {options.GroupSize}");
        using var progress = context.Progress.Start("rtn: quantize layers", layers.Count);
        long weights = 0, bits = 0;
        foreach (var layer in layers)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            // Working set: a float32 copy of the weight for the search, int32 codes, and the packed result (≤ the copy).
            context.Memory.EnsureFits($"rtn: layer '{layer.Name}'", 3 * 4 * layer.WeightCount);
            using var scope = NewDisposeScope();
            nn.Module replacement;
            Tensor original;
            switch (layer.Module)
            {
                case TorchSharp.Modules.Linear linear:
                {
                    original = linear.weight!.detach();
                    var q = RoundToNearestQuantizer.Quantize(original, options.WeightBits, options.GroupSize, options.Scheme, options.ClipSearch);
                    replacement = QuantizedLinear.FromCodes(q.Codes, q.Scales, q.ZeroPoints, options.WeightBits, options.GroupSize, linear.bias?.detach());
                    break;
                }
                case TorchSharp.Modules.Conv2d conv:
                {
                    original = conv.weight!.detach();
                    var q = RoundToNearestQuantizer.Quantize(original.flatten(1), options.WeightBits, options.GroupSize, options.Scheme, options.ClipSearch);
                    replacement = QuantizedConv2d.FromCodes(conv, q.Codes, q.Scales, q.ZeroPoints, options.WeightBits, options.GroupSize, conv.bias?.detach());
                    break;
                }
                default:
                    continue;
            }
            var compressed = (Compressor.Sdk.Compression.ICompressedLayer)replacement;
            context.Report.AddLayer(layer.Name, compressed, original);
            weights += layer.WeightCount;
            bits += compressed.WeightStorageBits;
            replacement.to(context.Device);
            model.ReplaceLayer(layer.Name, replacement);
            progress.Advance(1, layer.Name);
        }
        context.Report.AddMetric(new Metric("quantizedBitsPerWeight", (double)bits / weights, "bits"));
        context.Report.AddMetric(new Metric("quantizedWeights", weights, "weights"));
        return PluginResult.Of(model);
    }
}
