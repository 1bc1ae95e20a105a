using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Options;
using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;

namespace Compressor.Host.Pipeline;

/// <summary>What a run left as it was and what its compressed layers store, read from the model after the steps:
/// <list type="bullet">
/// <item>each weight-bearing layer no step compressed (<see cref="Fp32Layers"/>), with why and the option that would
/// compress it: a switch that adds its type (<see cref="OptionAttribute.Enables"/>, e.g. <c>rtn --embeddings</c>), the
/// step's <c>--include</c>/<c>--exclude</c>, or another installed plugin that targets its type;</item>
/// <item>for each compressed layer that stores plain floats (low-rank or block factors), the bits of those values and
/// their share of the dense weight count (<see cref="Storage"/>), so that 12 "bits per weight" of float32 factors keeping
/// 37.5 % of the weights is reported as what it is;</item>
/// <item>where the bytes of the written file are (<see cref="Breakdown"/>).</item>
/// </list></summary>
public static class LayerAudit
{
    /// <summary>One step of a run: its plugin and options.</summary>
    public sealed record Step(PluginEntry Plugin, PluginOptions Options);

    /// <summary>The weight-bearing layers of <paramref name="model"/> that are not compressed (nor inside a compressed
    /// layer), largest first, each with its hint.</summary>
    public static IReadOnlyList<Fp32Layer> Fp32Layers(CompressibleModel model, IReadOnlyList<Step> steps, PluginCatalog catalog)
    {
        var compressed = model.CompressedLayers().Select(c => c.Name + ".").ToList();
        var list = new List<Fp32Layer>();
        foreach (var layer in model.Layers())
        {
            if (layer.Type is not (LayerType.Linear or LayerType.Conv2d or LayerType.Embedding)) continue;
            if (compressed.Any(p => layer.Name.StartsWith(p, StringComparison.Ordinal))) continue;
            long parameters = 0, bytes = 0;
            foreach (var (_, p) in layer.Module.named_parameters())
            {
                parameters += p.numel();
                bytes += p.numel() * p.element_size();
            }
            list.Add(new Fp32Layer(layer.Name, TypeName(layer.Type), parameters, bytes, Hint(layer, steps, catalog)));
        }
        return list.OrderByDescending(l => l.Bytes).ThenBy(l => l.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Why <paramref name="layer"/> stayed float32 and what would compress it.</summary>
    public static string Hint(LayerInfo layer, IReadOnlyList<Step> steps, PluginCatalog catalog)
    {
        string type = TypeName(layer.Type);
        foreach (var (plugin, options) in steps)
        {
            var schema = OptionsSchema.For(options.GetType());
            var enabler = schema.Options.FirstOrDefault(o => o.Type == typeof(bool) && (o.Enables & layer.Type) != 0 && o.Property.GetValue(options) is false);
            if (enabler is not null) return $"{type} layers are off by default in {plugin.Id}: {plugin.Id} {enabler.Flag} compresses them";
            if ((plugin.Manifest!.Targets & layer.Type) == 0 && !schema.Options.Any(o => (o.Enables & layer.Type) != 0)) continue;
            if (!new LayerSelector(options.Include, options.Exclude).Matches(layer.Name))
                return $"left out by the --include/--exclude of {plugin.Id}";
            return $"{plugin.Id} did not select it (its own choice of layers); --include '{layer.Name}' names it";
        }
        var other = catalog.Entries.Where(e => e.IsAvailable && e.Manifest is not null)
            .FirstOrDefault(e => (e.Manifest!.Targets & layer.Type) != 0 || OptionsSchema.For(e.Instance!.OptionsType).Options.Any(o => (o.Enables & layer.Type) != 0));
        if (other is null) return $"no installed plugin compresses {type} layers";
        var switchOption = OptionsSchema.For(other.Instance!.OptionsType).Options.FirstOrDefault(o => (o.Enables & layer.Type) != 0);
        return $"no step of this run targets {type} layers; {other.Id}{(switchOption is null ? "" : " " + switchOption.Flag)} does";
    }

    /// <summary>For each compressed layer that stores plain floats: the bits of each stored value (32 for float32) and the
    /// stored values' share of the dense weight count; layers of packed codes are left out.</summary>
    public static IReadOnlyDictionary<string, (int ValueBits, double StoredShare)> Storage(CompressibleModel model)
    {
        var result = new Dictionary<string, (int, double)>(StringComparer.Ordinal);
        foreach (var (name, layer) in model.CompressedLayers())
        {
            if (layer is not TorchSharp.torch.nn.Module module) continue;
            long values = 0, bits = 0;
            int? width = null;
            bool plain = true;
            foreach (var (n, t) in module.named_parameters().Select(p => (p.name, (TorchSharp.torch.Tensor)p.parameter)).Concat(module.named_buffers()))
            {
                if (n == "bias" || n.EndsWith(".bias", StringComparison.Ordinal)) continue;
                if (!t.is_floating_point()) { plain = false; break; }
                int w = (int)t.element_size() * 8;
                if (width is { } seen && seen != w) { plain = false; break; }
                width = w;
                values += t.numel();
                bits += t.numel() * w;
            }
            long dense = layer.DenseWeightShape.Aggregate(1L, (a, b) => a * b);
            if (plain && width is { } vb && bits == layer.WeightStorageBits && dense > 0)
                result[name] = (vb, Math.Round((double)values / dense, 6));
        }
        return result;
    }

    /// <summary>Where the bytes of the written file are: model.onnx when it was exported (<paramref name="export"/>),
    /// else the checkpoint of <paramref name="checkpointBytes"/>.</summary>
    public static SizeBreakdown Breakdown(CompressibleModel model, IReadOnlyList<Fp32Layer> fp32, string checkpointFile, long checkpointBytes,
        OnnxExportResult? export)
    {
        long fp32Bytes = fp32.Sum(l => l.Bytes);
        var compressedLayers = model.CompressedLayers();
        if (export is not null)
        {
            long tensors = export.InitializerBytes.Sum(kv => kv.Value);
            long compressedBytes = export.CompressedTensorBytes;
            long other = Math.Max(0, tensors - compressedBytes - fp32Bytes);
            return new SizeBreakdown(Path.GetFileName(export.ModelPath), export.BytesOnDisk, compressedLayers.Count, compressedBytes, fp32Bytes, other,
                Math.Max(0, export.BytesOnDisk - tensors), fp32);
        }
        var prefixes = compressedLayers.Select(c => c.Name + ".").ToList();
        long all = 0, inCompressed = 0;
        foreach (var (name, t) in model.NamedTensors())
        {
            long b = t.numel() * t.element_size();
            all += b;
            if (prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal))) inCompressed += b;
        }
        return new SizeBreakdown(checkpointFile, checkpointBytes, compressedLayers.Count, inCompressed, fp32Bytes, Math.Max(0, all - inCompressed - fp32Bytes),
            Math.Max(0, checkpointBytes - all), fp32);
    }

    private static string TypeName(LayerType type) => type.ToString().ToLowerInvariant();
}
