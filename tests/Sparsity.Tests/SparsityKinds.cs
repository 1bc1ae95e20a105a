using Compressor.Engine.Kinds;
using Compressor.Layers;
using Compressor.Plugins.Sparsity;

namespace Sparsity.Tests;

/// <summary>The layer kinds a host running sparsity knows: the layers library's and the plugin's own (none: its
/// structured kinds are the library's).</summary>
internal static class SparsityKinds
{
    public static LayerKindSet All { get; } = new LayerKindSet(BuiltInLayerKinds.All).With(new SparsityPlugin().LayerKinds);
}
