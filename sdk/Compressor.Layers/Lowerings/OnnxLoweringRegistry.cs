using System.Collections.Concurrent;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>The <see cref="IOnnxLowering"/>s the exporter knows, by compressed layer kind: the SDK's own
/// (<see cref="QuantizedLinearLowering"/>, <see cref="QuantizedConv2dLowering"/>,
/// <see cref="QuantizedEmbeddingLowering"/>) and those plugins register for
/// their layer kinds (typically in their plugin class's static constructor, next to
/// <see cref="Compression.CompressedLayerRegistry.Register"/>).</summary>
public static class OnnxLoweringRegistry
{
    private static readonly ConcurrentDictionary<string, IOnnxLowering> Lowerings = new(StringComparer.Ordinal);

    static OnnxLoweringRegistry()
    {
        Register(new QuantizedLinearLowering());
        Register(new QuantizedConv2dLowering());
        Register(new CodebookLinearLowering());
        Register(new CodebookConv2dLowering());
        Register(new QuantizedEmbeddingLowering());
        Register(new LowRankLinearLowering());
        Register(new BlockShuffleLinearLowering());
        Register(new BlockDenseLinearLowering());
        Register(new TopKMaskedLinearLowering());
    }

    /// <summary>Registered kinds, sorted.</summary>
    public static IReadOnlyCollection<string> Kinds => Lowerings.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>Adds a lowering; re-registering a kind replaces it.</summary>
    public static void Register(IOnnxLowering lowering) => Lowerings[lowering.LayerKind] = lowering;

    /// <summary>The lowering of <paramref name="kind"/>, or null.</summary>
    public static IOnnxLowering? Find(string kind) => Lowerings.TryGetValue(kind, out var l) ? l : null;
}
