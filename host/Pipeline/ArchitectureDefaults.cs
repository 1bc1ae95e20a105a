using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Models;
using Compressor.Engine.Options;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>Chooses an architecture config for <c>compress train</c>: a name or preset, sized from the data
/// (input shape, classes, vocabulary, context), then overridden by <c>--config</c>.</summary>
public static class ArchitectureDefaults
{
    /// <summary>The architectures <c>train</c> builds from scratch and sizes from the data (the registry's others, such
    /// as <c>onnx</c>, only load existing models).</summary>
    public static readonly IReadOnlyList<string> Trainable = ["mlp", "cnn", "vit", "gpt", "llama"];

    /// <summary>Names <c>train</c> accepts: the trainable architectures and their presets.</summary>
    public static IEnumerable<string> Names => ArchitectureRegistry.All.Select(a => a.Name).Where(Trainable.Contains)
        .Concat(VitArchitecture.Presets.Keys).Concat(Gpt2Architecture.Presets.Keys).Concat(LlamaArchitecture.Presets.Keys).Order(StringComparer.Ordinal);

    /// <summary>The spec for <paramref name="name"/> on <paramref name="info"/>.</summary>
    public static ArchitectureSpec For(string name, DataInfo info, JObject? overrides)
    {
        var preset = ArchitectureRegistry.Preset(name);
        if (preset is null && !ArchitectureRegistry.All.Any(a => a.Name == name))
            throw new CompressException(ErrorKind.InvalidOptions,
                $"unknown architecture '{name}'{Suggestions.Phrase(name, Names)}; 'compress train' builds: {string.Join(", ", Names)}");
        string arch = preset?.Name ?? ArchitectureRegistry.Get(name).Name;
        if (!Trainable.Contains(arch))
            throw new CompressException(ErrorKind.InvalidOptions,
                $"architecture '{name}' cannot be trained by 'compress train' (it describes models loaded from files); trainable: {string.Join(", ", Names)}");
        var config = preset is null ? new JObject() : new JObject(preset.Config);
        bool images = info.Kind == DataKind.Images;
        switch (arch)
        {
            case "mlp" when images:
                config["inputs"] = info.SampleShape.Aggregate(1L, (a, b) => a * b);
                config["outputs"] = info.Classes;
                break;
            case "cnn" when images:
                config["inChannels"] = info.SampleShape[0];
                config["outputs"] = info.Classes;
                break;
            case "vit" when images:
                long size = info.SampleShape[^1];
                config["inChannels"] = info.SampleShape[0];
                config["classes"] = info.Classes;
                if (preset is null || (long)config["imageSize"]! != size)
                {
                    config["imageSize"] = size;
                    // Small images: 2×2 patches (8×8 → patch 4, measured best on digits); larger: 4×4 patches
                    // (28×28 → patch 7, 16 tokens); DeiT presets keep their own size when the data matches.
                    config["patchSize"] = size <= 16 && size % 2 == 0 ? size / 2 : size % 4 == 0 ? size / 4 : size;
                }
                break;
            case "gpt" when !images:
                config["vocabSize"] = info.VocabularySize;
                config["context"] = info.SampleShape[0];
                break;
            case "llama" when !images:
                // Rotary positions: no learned table to size, so maxPositions only bounds the exported decoder's cache.
                config["vocabSize"] = info.VocabularySize;
                config["maxPositions"] = Math.Max(info.SampleShape[0], 2048);
                break;
            default:
                throw new CompressException(ErrorKind.InvalidOptions,
                    $"architecture '{name}' does not fit {info.Kind.ToString().ToLowerInvariant()} data ({info.Name}); use {(images ? "mlp, cnn or vit" : "gpt or llama")}");
        }
        if (overrides is not null)
            foreach (var p in overrides.Properties()) config[p.Name] = p.Value.DeepClone();
        return ArchitectureRegistry.Spec(arch, config);
    }
}
