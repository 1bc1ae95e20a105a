using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Integer;

/// <summary>The integer (W8A8) kinds.</summary>
public static class IntegerKinds
{
    /// <summary><c>integer_linear</c>.</summary>
    public static IntegerKind<LinearGeometry> Linear { get; } = new("linear");

    /// <summary><c>integer_conv2d</c>.</summary>
    public static IntegerKind<Conv2dGeometry> Conv2d { get; } = new("conv2d");

    /// <summary>Both.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [Linear, Conv2d];
}
