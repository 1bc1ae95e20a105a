using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Lowering;

/// <summary>How a weight representation writes its matrix as ONNX values, in the layouts the geometries need; the
/// geometry's part (MatMul, Conv, the bias) is <see cref="GeometryLowering"/>'s.</summary>
/// <typeparam name="TLayer">The representation's layer type.</typeparam>
public interface IWeightLowering<in TLayer> where TLayer : GeometricLayer
{
    /// <summary>Adds the nodes computing Wᵀ [columns, rows] (what a MatMul takes); returns the value's name.</summary>
    string Transposed(ILoweringContext context, TLayer layer);

    /// <summary>Adds the nodes computing W in the geometry's dense shape (a convolution's kernel); returns its name.</summary>
    string Dense(ILoweringContext context, TLayer layer);

    /// <summary>Adds the nodes computing the rows of the int64 <paramref name="indices"/> into <paramref name="output"/>
    /// [..., columns] (an embedding lookup). By default, a Gather from the whole <see cref="Dense"/> table.</summary>
    void Lookup(ILoweringContext context, TLayer layer, string indices, string output) =>
        context.AddNode("Gather", [Dense(context, layer), indices], [output], new Dictionary<string, object> { ["axis"] = 0L });
}
