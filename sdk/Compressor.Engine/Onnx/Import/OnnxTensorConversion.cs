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

    /// <summary>The device of tensors read from data: always the CPU (also while a model is built on the meta device,
    /// whose Constant nodes still need their values).</summary>
    private static readonly Device CPU = new(TorchSharp.DeviceType.CPU);

    /// <summary>A new CPU tensor holding <paramref name="proto"/>'s values. The declared shape is checked against
    /// the bytes actually present (raw data, typed values, or the external file's size) before the tensor is
    /// allocated, so a few bytes that declare a huge shape are refused without allocating it.</summary>
    /// <param name="proto">The tensor.</param>
    /// <param name="what">Names the tensor in errors.</param>
    /// <param name="baseDirectory">Where external data files live (the model's folder), or null.</param>
    public static Tensor ToTensor(TensorProto proto, string what, string? baseDirectory = null)
    {
        var type = ScalarTypeOf(proto, what);
        long[] shape = proto.Dims.ToArray();
        long bytes = DeclaredBytes(shape, type, what);
        long count = bytes / ElementSize(type);
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            var (file, offset) = External(proto, what, baseDirectory, bytes);
            var t = empty(shape, type, device: CPU);
            try
            {
                ReadExternal(file, offset, bytes, t, what);
                return t;
            }
            catch
            {
                t.Dispose();
                throw;
            }
        }
        if (!proto.RawData.IsEmpty || count == 0)
        {
            if (proto.RawData.Length != bytes)
                throw new CompressException(ErrorKind.InvalidInput, $"{what}: raw data has {proto.RawData.Length} bytes, shape [{string.Join(", ", shape)}] of {NameOf(proto.DataType)} needs {bytes}");
            var t = empty(shape, type, device: CPU);
            if (bytes == 0) return t;
            var span = t.bytes;
            proto.RawData.Span.CopyTo(span);
            t.bytes = span;
            return t;
        }
        int have = TypedCount(proto, type);
        if (have != count) throw new CompressException(ErrorKind.InvalidInput, $"{what}: has {have} values, its shape [{string.Join(", ", shape)}] needs {count}");
        var typed = empty(shape, type, device: CPU);
        try
        {
            FillTyped(proto, typed, type);
            return typed;
        }
        catch
        {
            typed.Dispose();
            throw;
        }
    }

    /// <summary>Checks, without allocating it, that <paramref name="proto"/>'s declared shape matches the bytes present
    /// (raw data, typed values, or the external file, resolved and sized); returns its size in bytes.</summary>
    /// <exception cref="CompressException">A shape that overflows or does not match the data, in one line.</exception>
    public static long CheckPresent(TensorProto proto, string what, string? baseDirectory)
    {
        var type = ScalarTypeOf(proto, what);
        long[] shape = proto.Dims.ToArray();
        long bytes = DeclaredBytes(shape, type, what);
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            External(proto, what, baseDirectory, bytes);
            return bytes;
        }
        long count = bytes / ElementSize(type);
        if (!proto.RawData.IsEmpty || count == 0)
        {
            if (proto.RawData.Length != bytes)
                throw new CompressException(ErrorKind.InvalidInput, $"{what}: raw data has {proto.RawData.Length} bytes, shape [{string.Join(", ", shape)}] of {NameOf(proto.DataType)} needs {bytes}");
            return bytes;
        }
        int have = TypedCount(proto, type);
        if (have != count) throw new CompressException(ErrorKind.InvalidInput, $"{what}: has {have} values, its shape [{string.Join(", ", shape)}] needs {count}");
        return bytes;
    }

    /// <summary>The bytes a tensor of <paramref name="shape"/> and <paramref name="type"/> needs, refusing negative
    /// dimensions and sizes that overflow (or exceed what one CPU tensor can hold) in one line.</summary>
    public static long DeclaredBytes(IReadOnlyList<long> shape, ScalarType type, string what)
    {
        if (shape.Count > 16) throw new CompressException(ErrorKind.InvalidInput, $"{what}: rank {shape.Count} (at most 16)");
        long bytes = ElementSize(type);
        bool zero = false;
        foreach (var d in shape)
        {
            if (d < 0) throw new CompressException(ErrorKind.InvalidInput, $"{what}: negative dimension {d}");
            if (d == 0) { zero = true; continue; }
            // Every dimension counts, even after a zero one: libtorch refuses (with an exception of its own) shapes
            // whose non-zero dimensions overflow, whatever the zeros.
            if (bytes > long.MaxValue / d) throw new CompressException(ErrorKind.InvalidInput, $"{what}: shape [{string.Join(", ", shape)}] is too large (its size overflows)");
            bytes *= d;
        }
        return zero ? 0 : bytes;
    }

    private static int TypedCount(TensorProto proto, ScalarType type) => type switch
    {
        ScalarType.Float32 => proto.FloatData.Count,
        ScalarType.Float64 => proto.DoubleData.Count,
        ScalarType.Int64 => proto.Int64Data.Count,
        _ => proto.Int32Data.Count,   // int32, and the types ONNX stores in int32_data (16-bit, 8-bit, bool)
    };

    private static void FillTyped(TensorProto proto, Tensor t, ScalarType type)
    {
        var span = t.bytes;
        switch (type)
        {
            case ScalarType.Float32:
                MemoryMarshal.AsBytes(proto.FloatData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Float64:
                MemoryMarshal.AsBytes(proto.DoubleData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int64:
                MemoryMarshal.AsBytes(proto.Int64Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int32:
                MemoryMarshal.AsBytes(proto.Int32Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16:
                MemoryMarshal.AsBytes(proto.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()).CopyTo(span);
                break;
            default: // Byte, Int8, Bool: one byte each, stored in int32_data
                proto.Int32Data.Select(v => (byte)v).ToArray().AsSpan().CopyTo(span);
                break;
        }
        t.bytes = span;
    }

    /// <summary>The external data file of <paramref name="proto"/> (resolved inside the model's folder, links followed,
    /// a regular file) and the offset of its bytes, checked against the file's size before anything is allocated.</summary>
    private static (string File, long Offset) External(TensorProto proto, string what, string? baseDirectory, long bytes)
    {
        var kv = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in proto.ExternalData)
            if (!kv.TryAdd(e.Key, e.Value)) throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data key '{e.Key}' is given twice");
        if (!kv.TryGetValue("location", out var location) || baseDirectory is null)
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data without a location, or a model not read from a file");
        long Number(string key, long fallback)
        {
            if (!kv.TryGetValue(key, out var text)) return fallback;
            if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v))
                throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data {key} '{text}' is not a non-negative integer");
            return v;
        }
        long offset = Number("offset", 0), length = Number("length", bytes);
        if (length != bytes) throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data length {length} differs from the {bytes} bytes its shape needs");
        if (bytes > int.MaxValue) throw new CompressException(ErrorKind.InvalidInput, $"{what}: external tensor of {bytes} bytes is larger than 2 GiB, which this importer does not support");
        string file = IO.InputFiles.ResolveInFolder(baseDirectory, location, $"{what}: external data location");
        long size = IO.InputFiles.RequireRegular(file);
        if (offset > size || bytes > size - offset)
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data [{offset}, {offset} + {bytes}) extends past the end of '{location}' ({size} bytes)");
        return (file, offset);
    }

    private static void ReadExternal(string file, long offset, long bytes, Tensor t, string what)
    {
        if (bytes == 0) return;
        try
        {
            using var fs = IO.InputFiles.OpenRead(file);
            fs.Seek(offset, SeekOrigin.Begin);
            var span = t.bytes;
            var buffer = new byte[(int)Math.Min(bytes, 1 << 22)];
            long done = 0;
            while (done < bytes)
            {
                int want = (int)Math.Min(buffer.Length, bytes - done);
                fs.ReadExactly(buffer, 0, want);
                buffer.AsSpan(0, want).CopyTo(span.Slice((int)done, want));
                done += want;
            }
            t.bytes = span;
        }
        catch (EndOfStreamException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: external data file '{Path.GetFileName(file)}' ended early (it shrank while being read)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: cannot read external data '{Path.GetFileName(file)}' ({e.Message})");
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
