using System.Runtime.InteropServices;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Converts ONNX <c>TensorProto</c>s to TorchSharp tensors (raw data, typed fields or external data) and
/// maps ONNX element types to TorchSharp's.</summary>
internal static class OnnxTensorConversion
{
    /// <summary>The TorchSharp element type of an ONNX <c>TensorProto.DataType</c>, or null when libtorch has none.</summary>
    public static ScalarType? ScalarTypeOf(int onnxType) => onnxType switch
    {
        (int)TensorProto.Types.DataType.Float => ScalarType.Float32,
        (int)TensorProto.Types.DataType.Uint8 => ScalarType.Byte,
        (int)TensorProto.Types.DataType.Int8 => ScalarType.Int8,
        (int)TensorProto.Types.DataType.Int16 => ScalarType.Int16,
        (int)TensorProto.Types.DataType.Int32 => ScalarType.Int32,
        (int)TensorProto.Types.DataType.Int64 => ScalarType.Int64,
        (int)TensorProto.Types.DataType.Bool => ScalarType.Bool,
        (int)TensorProto.Types.DataType.Float16 => ScalarType.Float16,
        (int)TensorProto.Types.DataType.Double => ScalarType.Float64,
        (int)TensorProto.Types.DataType.Bfloat16 => ScalarType.BFloat16,
        _ => null,
    };

    /// <summary>The ONNX name of an element type number (e.g. <c>FLOAT</c>).</summary>
    public static string NameOf(int onnxType) =>
        Enum.IsDefined(typeof(TensorProto.Types.DataType), onnxType)
            ? ((TensorProto.Types.DataType)onnxType).ToString().ToUpperInvariant()
            : $"TYPE{onnxType}";

    /// <summary>The element type of <paramref name="proto"/>, or a one-line error naming <paramref name="what"/>.</summary>
    public static ScalarType ScalarTypeOf(TensorProto proto, string what) =>
        ScalarTypeOf(proto.DataType) ?? throw new CompressException(ErrorKind.InvalidInput,
            $"{what}: ONNX element type {NameOf(proto.DataType)} is not supported (TorchSharp has no such type)");

    /// <summary>A new CPU tensor holding <paramref name="proto"/>'s values.</summary>
    /// <param name="proto">The tensor.</param>
    /// <param name="what">Names the tensor in errors.</param>
    /// <param name="baseDirectory">Where external data files live (the model's folder), or null.</param>
    public static Tensor ToTensor(TensorProto proto, string what, string? baseDirectory = null)
    {
        var type = ScalarTypeOf(proto, what);
        long[] shape = proto.Dims.ToArray();
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new CompressException(ErrorKind.InvalidInput, $"{what}: negative dimension {d}");
            count = checked(count * d);
        }
        int size = ElementSize(type);
        long bytes = checked(count * size);
        var t = empty(shape, type, device: CPU);   // filled from the file's bytes: on the CPU whatever the default device
        try
        {
            if (count == 0) return t;
            if (proto.DataLocation == TensorProto.Types.DataLocation.External)
                ReadExternal(proto, what, baseDirectory, t, bytes);
            else if (!proto.RawData.IsEmpty)
            {
                if (proto.RawData.Length != bytes)
                    throw new CompressException(ErrorKind.InvalidInput, $"{what}: raw data has {proto.RawData.Length} bytes, shape [{string.Join(", ", shape)}] of {NameOf(proto.DataType)} needs {bytes}");
                var span = t.bytes;
                proto.RawData.Span.CopyTo(span);
                t.bytes = span;
            }
            else FillTyped(proto, what, t, type, count);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    private static void FillTyped(TensorProto proto, string what, Tensor t, ScalarType type, long count)
    {
        CompressException Short(int have) => new(ErrorKind.InvalidInput, $"{what}: has {have} values, its shape needs {count}");
        var span = t.bytes;
        switch (type)
        {
            case ScalarType.Float32:
                if (proto.FloatData.Count != count) throw Short(proto.FloatData.Count);
                MemoryMarshal.AsBytes(proto.FloatData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Float64:
                if (proto.DoubleData.Count != count) throw Short(proto.DoubleData.Count);
                MemoryMarshal.AsBytes(proto.DoubleData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int64:
                if (proto.Int64Data.Count != count) throw Short(proto.Int64Data.Count);
                MemoryMarshal.AsBytes(proto.Int64Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int32:
                if (proto.Int32Data.Count != count) throw Short(proto.Int32Data.Count);
                MemoryMarshal.AsBytes(proto.Int32Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16:
                if (proto.Int32Data.Count != count) throw Short(proto.Int32Data.Count);
                MemoryMarshal.AsBytes(proto.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()).CopyTo(span);
                break;
            default: // Byte, Int8, Bool: one byte each, stored in int32_data
                if (proto.Int32Data.Count != count) throw Short(proto.Int32Data.Count);
                proto.Int32Data.Select(v => (byte)v).ToArray().AsSpan().CopyTo(span);
                break;
        }
        t.bytes = span;
    }

    private static void ReadExternal(TensorProto proto, string what, string? baseDirectory, Tensor t, long bytes)
    {
        var kv = proto.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!kv.TryGetValue("location", out var location) || baseDirectory is null)
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data without a location, or a model not read from a file");
        string full = Path.GetFullPath(Path.Combine(baseDirectory, location));
        if (!full.StartsWith(Path.GetFullPath(baseDirectory), StringComparison.Ordinal))
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data location '{location}' leaves the model's folder");
        long offset = kv.TryGetValue("offset", out var o) ? long.Parse(o, System.Globalization.CultureInfo.InvariantCulture) : 0;
        long length = kv.TryGetValue("length", out var l) ? long.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : bytes;
        if (length != bytes) throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data length {length} differs from the {bytes} bytes its shape needs");
        try
        {
            using var fs = File.OpenRead(full);
            if (offset + length > fs.Length) throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data extends past the end of '{location}'");
            fs.Seek(offset, SeekOrigin.Begin);
            var span = t.bytes;
            var buffer = new byte[(int)length];
            fs.ReadExactly(buffer);
            buffer.AsSpan().CopyTo(span);
            t.bytes = span;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: cannot read external data '{location}' ({e.Message})");
        }
    }

    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
