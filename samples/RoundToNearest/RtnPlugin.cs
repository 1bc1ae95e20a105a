using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest;

/// <summary>The <c>rtn</c> plugin: replaces every selected linear and conv layer (and, with <c>--embeddings</c>, embedding
/// table) by a <see cref="QuantizedLinear"/> / <see cref="QuantizedConv2d"/> / <see cref="QuantizedEmbedding"/> holding
/// round-to-nearest integer codes. Data-free; works on weights-only models.</summary>
public sealed class RtnPlugin : CompressionPlugin<RtnOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, RtnOptions options)
    {
        var model = context.Model;
        var kinds = LayerKind.Linear | LayerKind.Conv2d | (options.Embeddings ? LayerKind.Embedding : LayerKind.None);
        var layers = model.Select(kinds, new LayerSelector(options.Include, options.Exclude));
        if (layers.Count == 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"rtn: no linear{(options.Embeddings ? ", conv or embedding" : " or conv")} layer matches --include/--exclude");
        var highPrecisionSelector = new LayerSelector(options.HighPrecisionLayers, []);
        bool IsHighPrecision(string name) => options.HighPrecisionLayers.Length > 0 && highPrecisionSelector.Matches(name);
        int kept = layers.Count(l => IsHighPrecision(l.Name));
        if (options.HighPrecisionLayers.Length > 0 && kept == 0)
            throw new CompressException(ErrorKind.InvalidOptions, "rtn: no selected layer matches --high-precision-layers");
        context.Log.Info($"rtn: {layers.Count} layer(s), {options.WeightBits}-bit {options.Scheme.ToString().ToLowerInvariant()}, group size {options.GroupSize}" +
                         (kept > 0 ? $"; {kept} at {options.HighPrecisionBits}-bit per channel" : ""));
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
            bool high = IsHighPrecision(layer.Name);
            int layerBits = high ? options.HighPrecisionBits : options.WeightBits, groupSize = high ? 0 : options.GroupSize;
            switch (layer.Module)
            {
                case TorchSharp.Modules.Linear linear:
                {
                    original = linear.weight!.detach();
                    var q = RoundToNearestQuantizer.Quantize(original, layerBits, groupSize, options.Scheme, options.ClipSearch);
                    replacement = QuantizedLinear.FromCodes(q.Codes, q.Scales, q.ZeroPoints, layerBits, groupSize, linear.bias?.detach());
                    break;
                }
                case TorchSharp.Modules.Conv2d conv:
                {
                    original = conv.weight!.detach();
                    var q = RoundToNearestQuantizer.Quantize(original.flatten(1), layerBits, groupSize, options.Scheme, options.ClipSearch);
                    replacement = QuantizedConv2d.FromCodes(conv, q.Codes, q.Scales, q.ZeroPoints, layerBits, groupSize, conv.bias?.detach());
                    break;
                }
                case TorchSharp.Modules.Embedding embedding:
                {
                    original = embedding.weight!.detach();
                    var q = RoundToNearestQuantizer.Quantize(original, layerBits, groupSize, options.Scheme, options.ClipSearch);
                    replacement = QuantizedEmbedding.FromCodes(q.Codes, q.Scales, q.ZeroPoints, layerBits, groupSize);
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
