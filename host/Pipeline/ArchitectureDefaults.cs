using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Models;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>Chooses an architecture config for <c>compress train</c>: a name or preset, sized from the data
/// (input shape, classes, vocabulary, context), then overridden by <c>--config</c>.</summary>
public static class ArchitectureDefaults
{
    /// <summary>Names <c>train</c> accepts (BERT and the Llama family load from Hugging Face folders; they are not
    /// trained from scratch here).</summary>
    public static IEnumerable<string> Names => ArchitectureRegistry.All.Select(a => a.Name).Where(n => n is not ("bert" or "llama"))
        .Concat(VitArchitecture.Presets.Keys).Concat(Gpt2Architecture.Presets.Keys).Order(StringComparer.Ordinal);

    /// <summary>The spec for <paramref name="name"/> on <paramref name="info"/>.</summary>
    public static ArchitectureSpec For(string name, DataInfo info, JObject? overrides)
    {
        var preset = ArchitectureRegistry.Preset(name);
        string arch = preset?.Name ?? ArchitectureRegistry.Get(name).Name;
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
            default:
                throw new CompressException(ErrorKind.InvalidOptions,
                    $"architecture '{name}' does not fit {info.Kind.ToString().ToLowerInvariant()} data ({info.Name}); use {(images ? "mlp, cnn or vit" : "gpt")}");
        }
        if (overrides is not null)
            foreach (var p in overrides.Properties()) config[p.Name] = p.Value.DeepClone();
        return ArchitectureRegistry.Spec(arch, config);
    }
}
