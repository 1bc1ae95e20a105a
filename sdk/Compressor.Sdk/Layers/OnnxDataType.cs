namespace Compressor.Sdk.Layers;

/// <summary>The ONNX <c>TensorProto.DataType</c> numbers the exporter uses (OnnxSharp's enum stops at 23; the
/// int field takes the opset-25 types too).</summary>
public static class OnnxDataType
{
    /// <summary>float32.</summary>
    public const int Float = 1;
    /// <summary>uint8.</summary>
    public const int UInt8 = 2;
    /// <summary>int8.</summary>
    public const int Int8 = 3;
    /// <summary>int16 (re-emitted initializers of imported graphs).</summary>
    public const int Int16 = 5;
    /// <summary>int32.</summary>
    public const int Int32 = 6;
    /// <summary>int64.</summary>
    public const int Int64 = 7;
    /// <summary>bool, one byte per element (re-emitted initializers of imported graphs).</summary>
    public const int Bool = 9;
    /// <summary>float16 (re-emitted initializers of imported graphs).</summary>
    public const int Float16 = 10;
    /// <summary>float64 (re-emitted initializers of imported graphs).</summary>
    public const int Double = 11;
    /// <summary>bfloat16 (re-emitted initializers of imported graphs).</summary>
    public const int BFloat16 = 16;
    /// <summary>uint4 (opset 21), two per byte, first element in the low nibble.</summary>
    public const int UInt4 = 21;
    /// <summary>int4 (opset 21), two per byte, first element in the low nibble.</summary>
    public const int Int4 = 22;
    /// <summary>uint2 (opset 25), four per byte, first element in the lowest bits.</summary>
    public const int UInt2 = 25;
    /// <summary>int2 (opset 25), four per byte, first element in the lowest bits.</summary>
    public const int Int2 = 26;

    /// <summary>The integer type of <paramref name="bits"/>-bit codes (8, 4 or 2), signed or unsigned.</summary>
    /// <exception cref="ArgumentException">Another width.</exception>
    public static int Integer(int bits, bool signed) => (bits, signed) switch
    {
        (8, true) => Int8, (8, false) => UInt8,
        (4, true) => Int4, (4, false) => UInt4,
        (2, true) => Int2, (2, false) => UInt2,
        _ => throw new ArgumentException($"no ONNX integer type of {bits} bits"),
    };

    /// <summary>Bits per element of <paramref name="dataType"/> (0 for types the exporter does not use).</summary>
    public static int BitsOf(int dataType) => dataType switch
    {
        Float or Int32 => 32, Int64 or Double => 64, UInt8 or Int8 or Bool => 8, Int16 or Float16 or BFloat16 => 16,
        UInt4 or Int4 => 4, UInt2 or Int2 => 2, _ => 0,
    };

    /// <summary>The lowest <c>ai.onnx</c> opset in which tensors of <paramref name="dataType"/> may feed
    /// DequantizeLinear: 25 for 2-bit, 21 for 4-bit, 13 otherwise.</summary>
    public static int MinimumOpset(int dataType) => dataType switch
    {
        UInt2 or Int2 => 25, UInt4 or Int4 => 21, _ => 13,
    };

    /// <summary>A short name for messages (float, int4, uint2, …).</summary>
    public static string Name(int dataType) => dataType switch
    {
        Float => "float", UInt8 => "uint8", Int8 => "int8", Int32 => "int32", Int64 => "int64",
        UInt4 => "uint4", Int4 => "int4", UInt2 => "uint2", Int2 => "int2", Int16 => "int16", Bool => "bool",
        Float16 => "float16", Double => "double", BFloat16 => "bfloat16", _ => $"type{dataType}",
    };
}
