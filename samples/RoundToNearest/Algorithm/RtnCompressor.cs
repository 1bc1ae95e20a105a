using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>Round-to-nearest over a model: every selected linear and conv layer (and, with <c>--embeddings</c>, embedding
/// table) becomes a <see cref="QuantizedLayer"/> of its geometry (kinds <c>quantized_linear</c>, <c>quantized_conv2d</c>,
/// <c>quantized_embedding</c>) holding the codes of <see cref="RoundToNearestQuantizer"/>. Data-free; works on
/// weights-only models. Layer-wise: each layer's working set is checked against <c>--max-memory</c> before it is
/// allocated.</summary>
public static class RtnCompressor
{
    /// <summary>Quantizes the selected layers of <paramref name="context"/>'s model in place.</summary>
    public static void Run(PluginContext context, RtnOptions options)
    {
        var model = context.Model;
        var types = LayerType.Linear | LayerType.Conv2d | (options.Embeddings ? LayerType.Embedding : LayerType.None);
        var layers = model.Select(types, new LayerSelector(options.Include, options.Exclude));
        if (layers.Count == 0)
            throw new CompressException(ErrorKind.InvalidOptions, $"rtn: no linear{(options.Embeddings ? ", conv or embedding" : " or conv")} layer matches --include/--exclude");
        if (options.ActivationBits == 8)
        {
            if (options.Embeddings)
                throw new CompressException(ErrorKind.InvalidOptions, "rtn --activation-bits 8 quantizes linear and conv layers: leave out --embeddings");
            W8A8Compressor.Run(context, options, layers);
            return;
        }
        if (options.ActivationScheme != ActivationScheme.Static || options.Smoothquant > 0)
            throw new CompressException(ErrorKind.InvalidOptions, "rtn: --activation-scheme and --smoothquant apply with --activation-bits 8");
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
            bool high = IsHighPrecision(layer.Name);
            int layerBits = high ? options.HighPrecisionBits : options.WeightBits, groupSize = high ? 0 : options.GroupSize;
            var (original, bias) = layer.Module switch
            {
                TorchSharp.Modules.Linear linear => (linear.weight!.detach(), linear.bias?.detach()),
                TorchSharp.Modules.Conv2d conv => (conv.weight!.detach(), conv.bias?.detach()),
                TorchSharp.Modules.Embedding embedding => (embedding.weight!.detach(), null),
                _ => throw new InvalidOperationException($"rtn: unexpected layer {layer.Module.GetType().Name}"),
            };
            var q = RoundToNearestQuantizer.Quantize(original.flatten(1), layerBits, groupSize, options.Scheme, options.ClipSearch);
            var format = new QuantizedFormat(layerBits, groupSize, q.ZeroPoints is null);
            var replacement = QuantizedLayer.FromCodes(WeightGeometry.Of(layer.Module), format, q.Codes, q.Scales, q.ZeroPoints, bias);
            context.Report.AddLayer(layer.Name, replacement, original);
            weights += layer.WeightCount;
            bits += replacement.WeightStorageBits;
            replacement.to(context.Device);
            model.ReplaceLayer(layer.Name, replacement);
            progress.Advance(1, layer.Name);
        }
        context.Report.AddMetric(new Metric("quantizedBitsPerWeight", (double)bits / weights, "bits"));
        context.Report.AddMetric(new Metric("quantizedWeights", weights, "weights"));
    }
}
