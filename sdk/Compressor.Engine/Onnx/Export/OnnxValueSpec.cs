using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Export;

/// <summary>A graph input or output: its name, element type and shape.</summary>
/// <param name="Name">The value name in the graph.</param>
/// <param name="ElementType">An <see cref="OnnxDataType"/> number (float for activations, int64 for token ids).</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="ValueLimit">For integer inputs (token ids): verification feeds values in [0, ValueLimit); 0 feeds ones (attention masks). Unused for floats.</param>
public sealed record OnnxValueSpec(string Name, int ElementType, IReadOnlyList<OnnxDim> Shape, long ValueLimit = 0)
{
    /// <summary>The example shape verification feeds (symbolic dimensions at their example sizes).</summary>
    public long[] ExampleShape => Shape.Select(d => d.Size).ToArray();
}
