using Compressor.Engine.Kinds;
using Compressor.Layers;
using Compressor.Plugins.StatsQ;

namespace StatsQ.Tests;

/// <summary>The layer kinds a host running statsq knows: the layers library's and the plugin's own
/// (<c>statsq_linear</c>, <c>statsq_conv2d</c>, <c>statsq_attention</c>).</summary>
internal static class StatsQTestKinds
{
    public static LayerKindSet All { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new StatsQPlugin().LayerKinds);
}
