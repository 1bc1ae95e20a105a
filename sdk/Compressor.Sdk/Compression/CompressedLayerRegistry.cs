using System.Collections.Concurrent;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Layers.Structured;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Sdk.Compression;

/// <summary>The compressed layer kinds the process knows: the SDK's own forms plus those plugins register.</summary>
public static class CompressedLayerRegistry
{
    private static readonly ConcurrentDictionary<string, ICompressedLayerFactory> Factories = new(StringComparer.Ordinal);

    static CompressedLayerRegistry()
    {
        Register(new QuantizedLinear.Factory());
        Register(new QuantizedConv2d.Factory());
        Register(new CodebookLinear.Factory());
        Register(new CodebookConv2d.Factory());
        Register(new QuantizedEmbedding.Factory());
        Register(new LowRankLinear.Factory());
        Register(new BlockShuffleLinear.Factory());
        Register(new BlockDenseLinear.Factory());
        Register(new TopKMaskedLinear.Factory());
    }

    /// <summary>Registered kind ids.</summary>
    public static IReadOnlyCollection<string> Kinds => Factories.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>Adds a factory (a plugin's own layer kind). Re-registering the same kind replaces it.</summary>
    public static void Register(ICompressedLayerFactory factory) => Factories[factory.Kind] = factory;

    /// <summary>Rebuilds an empty layer of <paramref name="kind"/>.</summary>
    /// <exception cref="CompressException">No factory for the kind (the plugin that made it is not installed).</exception>
    public static torch.nn.Module Create(string kind, JObject config) => Factories.TryGetValue(kind, out var f)
        ? f.Create(config)
        : throw new CompressException(ErrorKind.InvalidInput, $"unknown compressed layer kind '{kind}' (is the plugin that produced it installed? known: {string.Join(", ", Kinds)})");
}
