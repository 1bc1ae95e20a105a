namespace Compressor.Sdk.Models;

/// <summary>A weight-bearing layer of a model: its fully qualified name, type and weight shape.</summary>
/// <param name="Name">Fully qualified module name, e.g. <c>blocks.0.mlp.fc1</c>; its weight is <c>Name + ".weight"</c>.</param>
/// <param name="Type">The layer type.</param>
/// <param name="WeightShape">Shape of the (dense equivalent) weight.</param>
/// <param name="Module">The module itself.</param>
public sealed record LayerInfo(string Name, LayerType Type, long[] WeightShape, TorchSharp.torch.nn.Module Module)
{
    /// <summary>Number of weights (product of the shape).</summary>
    public long WeightCount => WeightShape.Aggregate(1L, (a, b) => a * b);
}
