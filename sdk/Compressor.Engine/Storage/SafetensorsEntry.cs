using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>One tensor of a safetensors header: name, dtype, shape and its byte range in the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, ScalarType ScalarType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes of data.</summary>
    public long ByteCount => End - Begin;

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
