using System.Text.Json.Nodes;
using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Quantized;

/// <summary>The three group-quantized kinds.</summary>
public static class QuantizedKinds
{
    /// <summary><c>quantized_linear</c>.</summary>
    public static QuantizedKind<LinearGeometry> Linear { get; } = new("linear");

    /// <summary><c>quantized_conv2d</c>, config version 2: version 1 (before SDK 2.0) called the convolution groups
    /// <c>groups</c>; they are <c>convGroups</c> now, as in every conv2d geometry.</summary>
    public static QuantizedKind<Conv2dGeometry> Conv2d { get; } = new("conv2d", 2, RenameGroups);

    /// <summary><c>quantized_embedding</c>.</summary>
    public static QuantizedKind<EmbeddingGeometry> Embedding { get; } = new("embedding");

    /// <summary>All three.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [Linear, Conv2d, Embedding];

    private static void RenameGroups(int fromVersion, JsonObject config)
    {
        if (fromVersion >= 2 || config.ContainsKey("convGroups") || !config.TryGetPropertyValue("groups", out var groups)) return;
        config.Remove("groups");
        config["convGroups"] = groups;
    }
}
