using Compressor.Engine.Onnx.Export;

namespace Compressor.Engine.Architectures;

/// <summary>ONNX node patterns shared by the built-in transformer architectures.</summary>
internal static class TransformerOnnx
{
    /// <summary>GELU: exact (erf form, which ORT fuses into its Gelu kernel) or the tanh approximation.</summary>
    public static string Gelu(IOnnxExportContext c, string x, bool tanh) => ActivationEmitter.Gelu(c, x, tanh);

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
