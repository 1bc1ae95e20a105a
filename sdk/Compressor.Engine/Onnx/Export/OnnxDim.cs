namespace Compressor.Engine.Onnx.Export;

/// <summary>One dimension of a graph input or output: a fixed size, or a named symbolic size (<c>batch</c>) with the
/// example size that verification uses.</summary>
/// <param name="Size">The fixed size, or the example size of a symbolic dimension.</param>
/// <param name="Symbol">The symbolic name, or null for a fixed size.</param>
public readonly record struct OnnxDim(long Size, string? Symbol)
{
    /// <summary>A fixed dimension.</summary>
    public static OnnxDim Fixed(long size) => new(size, null);

    /// <summary>A symbolic dimension, fed <paramref name="example"/> during verification.</summary>
    public static OnnxDim Named(string symbol, long example) => new(example, symbol);
}
