using Compressor.Engine.Kinds;
using Compressor.Layers;
using Compressor.Samples.RoundToNearest;

namespace RoundToNearest.Tests;

/// <summary>The layer kinds a host running rtn knows: the layers library's and rtn's own (none).</summary>
internal static class RtnKinds
{
    public static LayerKindSet All { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new RtnPlugin().LayerKinds);
}
