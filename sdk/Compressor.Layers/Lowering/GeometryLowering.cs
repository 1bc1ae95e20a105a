using Compressor.Layers.Geometry;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Lowering;

/// <summary>Lowers a <see cref="GeometricLayer"/>: the representation writes the weight (<see cref="IWeightLowering{TLayer}"/>)
/// and the geometry applies it — linear: Wᵀ → MatMul (→ Add bias); conv2d: W → Conv (bias as its third input);
/// embedding: the representation's row lookup. ORT's graph optimiser fuses DequantizeLinear → MatMul into
/// <c>com.microsoft.MatMulNBits</c>, so representations that can emit a DequantizeLinear for Wᵀ do.</summary>
public static class GeometryLowering
{
    /// <summary>Adds the nodes computing <paramref name="output"/> from <paramref name="input"/>.</summary>
    public static void Lower<TLayer>(ILoweringContext context, TLayer layer, IWeightLowering<TLayer> weight, string input, string output)
        where TLayer : GeometricLayer
    {
        switch (layer.Geometry)
        {
            case EmbeddingGeometry:
                weight.Lookup(context, layer, input, output);
                return;
            case LinearGeometry:
            {
                string wt = weight.Transposed(context, layer);
                string? bias = Initializers.Bias(context, layer.Bias);
                if (bias is null)
                {
                    context.AddNode("MatMul", [input, wt], [output]);
                    return;
                }
                string product = context.UniqueName("matmul");
                context.AddNode("MatMul", [input, wt], [product]);
                context.AddNode("Add", [product, bias], [output]);
                return;
            }
            case Conv2dGeometry conv:
            {
                string w = weight.Dense(context, layer);
                string? bias = Initializers.Bias(context, layer.Bias);
                var inputs = new List<string> { input, w };
                if (bias is not null) inputs.Add(bias);
                context.AddNode("Conv", inputs, [output], ConvAttributes(conv));
                return;
            }
            default:
                throw new ArgumentException($"{context.LayerName}: no lowering for geometry {layer.Geometry.GetType().Name}");
        }
    }

    /// <summary>The attributes of an ONNX Conv node for <paramref name="g"/> (symmetric padding), in name order.</summary>
    public static IReadOnlyDictionary<string, object> ConvAttributes(Conv2dGeometry g) => new SortedDictionary<string, object>(StringComparer.Ordinal)
    {
        ["dilations"] = g.Dilation.ToArray(),
        ["group"] = g.ConvGroups,
        ["kernel_shape"] = g.Kernel.ToArray(),
        ["pads"] = new[] { g.Padding[0], g.Padding[1], g.Padding[0], g.Padding[1] },
        ["strides"] = g.Stride.ToArray(),
    };
}
