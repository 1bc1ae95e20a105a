namespace Compressor.Engine.Onnx.Import;

/// <summary>Whether a layer's output reaches the rest of the graph only through a Relu
/// (<see cref="Compressor.Sdk.Models.CompressibleModel.OutputIsRectified"/>): following the value from the layer's
/// node through single readers that pass it unchanged (Identity, a BatchNormalization a fold left as the identity,
/// <see cref="OnnxNormalizationFold.IsIdentity"/>), the one reader is a Relu. Readers that look only at the shape
/// (Shape) do not count.</summary>
internal static class OnnxRectifiedOutput
{
    public static bool Of(OnnxModule module, string layer)
    {
        var use = module.LayerUses.FirstOrDefault(u => u.Path == layer);
        if (use is null || module.OutputNames.Contains(use.Output)) return false;
        var nodes = module.GraphWithoutWeights().Graph.Node;
        string value = use.Output;
        for (int step = 0; step < nodes.Count; step++)
        {
            var readers = nodes.Where(n => n.OpType != "Shape" && n.Input.Contains(value)).ToList();
            if (readers.Count != 1 || readers[0].Input[0] != value) return false;
            var reader = readers[0];
            if (reader.OpType == "Relu") return true;
            bool passes = reader.OpType == "Identity" || OnnxNormalizationFold.IsIdentity(module, reader);
            if (!passes || module.OutputNames.Contains(reader.Output[0])) return false;
            value = reader.Output[0];
        }
        return false;
    }
}
