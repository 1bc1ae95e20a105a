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
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
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
            foreach (var (name, t) in list)
            {
                long bytes = t.numel() * TensorDType.SizeOf(t.dtype);
                jw.WritePropertyName(name);
                jw.WriteStartObject();
                jw.WritePropertyName("dtype"); jw.WriteValue(TensorDType.NameOf(t.dtype));
                jw.WritePropertyName("shape"); jw.WriteStartArray(); foreach (var d in t.shape) jw.WriteValue(d); jw.WriteEndArray();
                jw.WritePropertyName("data_offsets"); jw.WriteStartArray(); jw.WriteValue(offset); jw.WriteValue(offset + bytes); jw.WriteEndArray();
                jw.WriteEndObject();
                offset += bytes;
            }
            jw.WriteEndObject();
        }
        var header = new System.Text.UTF8Encoding(false).GetBytes(sw.ToString());
        int padded = (header.Length + 7) / 8 * 8;
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(header);
            for (int i = header.Length; i < padded; i++) s.WriteByte((byte)' ');
            foreach (var (_, t) in list)
            {
                if (t.numel() == 0) continue;
                using var cpu = t.device_type == TorchSharp.DeviceType.CPU ? t.contiguous() : t.cpu().contiguous();
                s.Write(cpu.bytes);
            }
        });
    }
}
