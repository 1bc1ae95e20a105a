using Compressor.Sdk.Onnx.Export;

namespace Compressor.Sdk.Architectures;

/// <summary>ONNX node patterns shared by the built-in transformer architectures.</summary>
internal static class TransformerOnnx
{
    /// <summary>GELU: exact 0.5·x·(1 + Erf(x/√2)) (which ORT fuses into its Gelu kernel), or the tanh approximation
    /// 0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static string Gelu(IOnnxExportContext c, string x, bool tanh)
    {
        string inner;
        if (tanh)
        {
            string cube = c.AddNode("Mul", x, c.AddNode("Mul", x, x));
            string sum = c.AddNode("Add", x, c.AddNode("Mul", cube, c.FloatConstant(0.044715f)));
            inner = c.AddNode("Tanh", c.AddNode("Mul", sum, c.FloatConstant((float)Math.Sqrt(2 / Math.PI))));
        }
        else
        {
            inner = c.AddNode("Erf", c.AddNode("Div", x, c.FloatConstant((float)Math.Sqrt(2))));
        }
        string onePlus = c.AddNode("Add", inner, c.FloatConstant(1f));
        return c.AddNode("Mul", c.AddNode("Mul", x, onePlus), c.FloatConstant(0.5f));
    }

    /// <summary>Transpose with a permutation.</summary>
    public static string Transpose(IOnnxExportContext c, string x, params long[] perm) =>
        c.AddNode("Transpose", [x], [c.UniqueName("Transpose")], new Dictionary<string, object> { ["perm"] = perm });

    /// <summary>Reshape to a constant shape (0 copies the input's dimension, −1 is inferred).</summary>
    public static string Reshape(IOnnxExportContext c, string x, params long[] shape) => c.AddNode("Reshape", x, c.Int64Constant(shape));

    /// <summary>Gather one index along an axis (drops the axis).</summary>
    public static string Select(IOnnxExportContext c, string x, long axis, long index)
    {
        string idx = c.AddTensor($"index{index}", TorchSharp.torch.tensor(index));
        return c.AddNode("Gather", [x, idx], [c.UniqueName("Gather")], new Dictionary<string, object> { ["axis"] = axis });
    }

    /// <summary>The size of dimension <paramref name="axis"/> of <paramref name="x"/> as a 1-element int64 tensor.</summary>
    public static string Dim(IOnnxExportContext c, string x, long axis)
    {
        string shape = c.AddNode("Shape", x);
        return c.AddNode("Slice", shape, c.Int64Constant(axis), c.Int64Constant(axis + 1));
    }
}
