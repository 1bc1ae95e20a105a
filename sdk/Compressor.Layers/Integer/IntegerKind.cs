using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Integer;

/// <summary>The integer (W8A8) kinds, one per geometry: <c>integer_linear</c> and <c>integer_conv2d</c>
/// (<see cref="IntegerLayer"/>, lowered by <see cref="IntegerLowering"/>). Their ONNX form is the same for both
/// export targets: int8 codes are already the smallest form and ONNX Runtime's integer kernels the fastest.</summary>
/// <typeparam name="TGeometry">The geometry.</typeparam>
public sealed class IntegerKind<TGeometry> : LayerKind<IntegerLayer, LayerConfig<IntegerFormat, TGeometry>> where TGeometry : WeightGeometry
{
    internal IntegerKind(string geometryId) => Id = IntegerLayer.Representation + "_" + geometryId;

    /// <inheritdoc/>
    public override string Id { get; }

    /// <inheritdoc/>
    public override IntegerLayer Create(LayerConfig<IntegerFormat, TGeometry> config) => new(config.Format, config.Geometry);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, IntegerLayer layer, string input, string output) => IntegerLowering.Lower(context, layer, input, output);
}
