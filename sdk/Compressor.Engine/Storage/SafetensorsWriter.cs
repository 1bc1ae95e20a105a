using System.Buffers.Binary;
using Compressor.Engine.IO;
using Newtonsoft.Json;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>Writes safetensors files atomically, tensors in the order given, with a <c>__metadata__</c> map.
/// The header is padded with spaces to a multiple of 8 bytes, as the reference implementation does. The bytes
/// depend only on the inputs (no timestamps), so the same tensors give the same file.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = Header(list.Select(t => (t.Name, t.Tensor.dtype, t.Tensor.shape)).ToList(), metadata);
        AtomicFile.Write(path, s =>
        {
            s.Write(header);
            foreach (var (_, t) in list) WriteData(s, t);
        });
    }

    /// <summary>Writes a file whose tensors are known up front by name, type and shape (<paramref name="layout"/>), their
    /// data produced one at a time by <paramref name="data"/> (index into the layout; the tensor is disposed after it is
    /// written), so that a file larger than memory is written with one tensor in memory. The bytes equal those of
    /// <see cref="Write(string, IEnumerable{ValueTuple{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/> for
    /// the same tensors.</summary>
    /// <exception cref="InvalidOperationException">A produced tensor whose type or shape is not the layout's.</exception>
    public static void Write(string path, IReadOnlyList<(string Name, ScalarType Type, long[] Shape)> layout, IReadOnlyDictionary<string, string>? metadata,
        Func<int, Tensor> data)
    {
        var header = Header(layout, metadata);
        AtomicFile.Write(path, s =>
        {
            s.Write(header);
            for (int i = 0; i < layout.Count; i++)
            {
                using var t = data(i);
                if (t.dtype != layout[i].Type || !t.shape.SequenceEqual(layout[i].Shape))
                    throw new InvalidOperationException($"tensor '{layout[i].Name}' is {t.dtype} [{string.Join(", ", t.shape)}], the header declares {layout[i].Type} [{string.Join(", ", layout[i].Shape)}]");
                WriteData(s, t);
            }
        });
    }

    private static void WriteData(Stream s, Tensor t)
    {
        if (t.numel() == 0) return;
        using var cpu = t.device_type == TorchSharp.DeviceType.CPU ? t.contiguous() : t.cpu().contiguous();
        s.Write(cpu.bytes);
    }

    /// <summary>The length prefix and the JSON header, padded with spaces to a multiple of 8 bytes.</summary>
    private static byte[] Header(IReadOnlyList<(string Name, ScalarType Type, long[] Shape)> list, IReadOnlyDictionary<string, string>? metadata)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _, _) in list)
            if (!seen.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
        var sw = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var jw = new JsonTextWriter(sw) { Formatting = Formatting.None })
        {
            jw.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                jw.WritePropertyName("__metadata__");
                jw.WriteStartObject();
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { jw.WritePropertyName(k); jw.WriteValue(v); }
                jw.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, type, shape) in list)
            {
                long bytes = shape.Aggregate(1L, (a, b) => a * b) * TensorDType.SizeOf(type);
                jw.WritePropertyName(name);
                jw.WriteStartObject();
                jw.WritePropertyName("dtype"); jw.WriteValue(TensorDType.NameOf(type));
                jw.WritePropertyName("shape"); jw.WriteStartArray(); foreach (var d in shape) jw.WriteValue(d); jw.WriteEndArray();
                jw.WritePropertyName("data_offsets"); jw.WriteStartArray(); jw.WriteValue(offset); jw.WriteValue(offset + bytes); jw.WriteEndArray();
                jw.WriteEndObject();
                offset += bytes;
            }
            jw.WriteEndObject();
        }
        var json = new System.Text.UTF8Encoding(false).GetBytes(sw.ToString());
        int padded = (json.Length + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.CopyTo(header, 8);
        for (int i = 8 + json.Length; i < header.Length; i++) header[i] = (byte)' ';
        return header;
    }
}
