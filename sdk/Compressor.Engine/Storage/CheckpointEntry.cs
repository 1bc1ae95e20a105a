using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>One tensor of a checkpoint as its header describes it, before any data is read.</summary>
/// <param name="Name">Fully qualified tensor name.</param>
/// <param name="DType">The file's own dtype spelling (e.g. <c>F32</c>, <c>torch.FloatStorage</c>).</param>
/// <param name="ScalarType">The TorchSharp element type it reads as.</param>
/// <param name="Shape">Shape.</param>
/// <param name="ByteCount">Bytes of data.</param>
public sealed record CheckpointEntry(string Name, string DType, ScalarType ScalarType, long[] Shape, long ByteCount)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
