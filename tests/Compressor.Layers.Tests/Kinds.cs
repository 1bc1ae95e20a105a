using Compressor.Engine.Kinds;

namespace Compressor.Layers.Tests;

/// <summary>The kind set of the layers library alone, as a host without plugins has it.</summary>
internal static class Kinds
{
    public static LayerKindSet BuiltIn { get; } = new(BuiltInLayerKinds.All);
}
