namespace Compressor.Sdk.Onnx.Export.Emitters;

/// <summary>The attributes of an ONNX 2-D Conv node from PyTorch-style geometry (symmetric padding).</summary>
internal static class ConvAttributes
{
    public static IReadOnlyDictionary<string, object> Of(IReadOnlyList<long> kernel, IReadOnlyList<long> stride, IReadOnlyList<long> padding,
        IReadOnlyList<long> dilation, long groups) => new SortedDictionary<string, object>(StringComparer.Ordinal)
    {
        ["dilations"] = dilation.ToArray(),
        ["group"] = groups,
        ["kernel_shape"] = kernel.ToArray(),
        ["pads"] = new[] { padding[0], padding[1], padding[0], padding[1] },
        ["strides"] = stride.ToArray(),
    };
}
