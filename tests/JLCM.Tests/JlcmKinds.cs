using Compressor.Engine.Kinds;
using Compressor.Layers;
using Compressor.Plugins.Jlcm;

namespace JLCM.Tests;

/// <summary>The layer kinds a host running jlcm knows: the layers library's and the plugin's own (none: its codebook and
/// quantized kinds are the library's).</summary>
internal static class JlcmKinds
{
    public static LayerKindSet All { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new JlcmPlugin().LayerKinds);
}
