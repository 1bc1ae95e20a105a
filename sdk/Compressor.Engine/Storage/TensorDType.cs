using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>The element types of checkpoint files, with their safetensors names and sizes.</summary>
public static class TensorDType
{
    private static readonly (string Name, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>Whether <paramref name="type"/> is a floating-point type.</summary>
    public static bool IsFloatingPoint(this ScalarType type) =>
        type is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>The safetensors dtype names this tool reads and writes.</summary>
    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    /// <summary>The scalar type and element size of a safetensors dtype name, or false.</summary>
    public static bool TryParse(string name, out ScalarType type, out int size)
    {
        foreach (var t in Table)
            if (t.Name == name) { type = t.Type; size = t.Size; return true; }
        type = default; size = 0;
        return false;
    }

    /// <summary>The safetensors name of <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">A type safetensors cannot hold here (e.g. complex).</exception>
    public static string NameOf(ScalarType type) => Table.FirstOrDefault(t => t.Type == type).Name
        ?? throw new NotSupportedException($"tensor element type {type} cannot be stored");

    /// <summary>The element size in bytes of <paramref name="type"/>.</summary>
    public static int SizeOf(ScalarType type) => Table.FirstOrDefault(t => t.Type == type).Size is var s and > 0
        ? s : throw new NotSupportedException($"tensor element type {type} cannot be stored");
}
