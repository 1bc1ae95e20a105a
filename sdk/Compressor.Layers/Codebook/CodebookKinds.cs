using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Codebook;

/// <summary>The grouped-codebook kinds.</summary>
public static class CodebookKinds
{
    /// <summary><c>codebook_linear</c>.</summary>
    public static CodebookKind<LinearGeometry> Linear { get; } = new("linear");

    /// <summary><c>codebook_conv2d</c>.</summary>
    public static CodebookKind<Conv2dGeometry> Conv2d { get; } = new("conv2d");

    /// <summary>Both.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [Linear, Conv2d];
}
