using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The layer kinds the plugin ships its models in.</summary>
public static class StatsQKinds
{
    /// <summary><c>statsq_linear</c>, <c>statsq_conv2d</c>, <c>statsq_attention</c>.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [new StatsQLinearKind(), new StatsQConv2dKind(), new StatsQAttentionKind()];
}
