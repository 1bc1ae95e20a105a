using System.Buffers.Binary;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>Reads a safetensors file tensor by tensor (seeking, never loading the whole file), after validating the
/// whole header against the file: header length within the file, well-formed JSON, known dtypes, non-negative
/// shapes without overflow, byte ranges inside the data section, matching shape × dtype size, no overlaps.
/// Nothing is allocated in proportion to what a header claims until it is checked against the file size.</summary>
public sealed class SafetensorsReader : ICheckpointReader
{
    /// <summary>Upper bound for the JSON header (the reference implementation uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The most tensors one file may hold (the largest real checkpoints hold a few thousand per file); a
    /// header of millions of empty entries would otherwise cost seconds and gigabytes to index.</summary>
    public const int MaxTensors = 262_144;

    private readonly FileStream _stream;
    private readonly Dictionary<string, SafetensorsEntry> _byName;

    private SafetensorsReader(string path, FileStream stream, List<SafetensorsEntry> entries, Dictionary<string, string> metadata, long dataStart)
    {
        Path = path;
        _stream = stream;
        Entries = entries;
        Metadata = metadata;
        DataStart = dataStart;
        _byName = entries.ToDictionary(e => e.Name);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Tensors in file-header order, with their byte ranges.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <inheritdoc/>
    public string Format => "safetensors";

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors => Entries.Select(e => new CheckpointEntry(e.Name, e.DType, e.ScalarType, e.Shape, e.ByteCount)).ToList();

    /// <summary>The <c>__metadata__</c> string map (empty if absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Offset of the data section.</summary>
    public long DataStart { get; }

    /// <summary>Whether the first bytes of a file look like safetensors (a plausible header length and a '{').</summary>
    public static bool Sniff(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < 9) return false;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        return n >= 2 && n <= (ulong)Math.Max(0, fileLength - 8) && head[8] == (byte)'{';
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Missing, truncated or malformed file, in one line.</exception>
    public static SafetensorsReader Open(string path)
    {
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot open ({e.Message})");
        }
        try
        {
            var (entries, metadata, dataStart) = ParseHeader(fs, path);
            return new SafetensorsReader(path, fs, entries, metadata, dataStart);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>Whether a tensor of that name exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    public SafetensorsEntry Entry(string name) => _byName.TryGetValue(name, out var e)
        ? e : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");

    /// <summary>Reads one tensor into a new CPU tensor.</summary>
    public Tensor Read(string name) => Read(Entry(name));

    /// <summary>Reads one tensor into a new CPU tensor.</summary>
    public Tensor Read(SafetensorsEntry entry)
    {
        var t = empty(entry.Shape, entry.ScalarType);
        if (entry.ByteCount == 0) return t;
        try
        {
            var span = t.bytes;
            _stream.Seek(DataStart + entry.Begin, SeekOrigin.Begin);
            var buffer = new byte[Math.Min(entry.ByteCount, 1 << 24)];
            long done = 0;
            while (done < entry.ByteCount)
            {
                int want = (int)Math.Min(buffer.Length, entry.ByteCount - done);
                _stream.ReadExactly(buffer, 0, want);
                buffer.AsSpan(0, want).CopyTo(span.Slice((int)done, want));
                done += want;
            }
            t.bytes = span;
            return t;
        }
        catch (EndOfStreamException)
        {
            t.Dispose();
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: truncated while reading tensor '{entry.Name}'");
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _stream.Dispose();

    private static (List<SafetensorsEntry>, Dictionary<string, string>, long) ParseHeader(FileStream fs, string path)
    {
        long length = fs.Length;
        CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{path}: not a valid safetensors file: {what}");
        if (length < 8) throw Bad($"file has {length} bytes, fewer than the 8-byte header length");
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)(length - 8)) throw Bad($"header length {n} exceeds the file ({length} bytes)");
        if (n > MaxHeaderBytes) throw Bad($"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
        var headerBytes = new byte[n];
        fs.ReadExactly(headerBytes);
        long dataStart = 8 + (long)n, dataLength = length - dataStart;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SafetensorsEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            // Streamed entry by entry (never the whole header as one JSON tree), so that a header of a million tiny
            // entries is refused at the limit instead of being built in memory first.
            using var reader = new JsonTextReader(new StreamReader(new MemoryStream(headerBytes), new System.Text.UTF8Encoding(false, true)))
            {
                DateParseHandling = DateParseHandling.None,
                MaxDepth = 8,
            };
            if (!reader.Read() || reader.TokenType != JsonToken.StartObject) throw Bad("the header is not a JSON object");
            while (reader.Read() && reader.TokenType == JsonToken.PropertyName)
            {
                string name = (string)reader.Value!;
                if (!seen.Add(name)) throw Bad($"key '{name}' appears twice in the header (a duplicate tensor name or __metadata__)");
                if (name != "__metadata__" && entries.Count >= MaxTensors) throw Bad($"more than {MaxTensors} tensors in one file");
                if (!reader.Read()) throw Bad("the header JSON ends early");
                var value = JToken.ReadFrom(reader, DuplicateKeysRefused);
                if (name == "__metadata__")
                {
                    if (value is not JObject meta) throw Bad("__metadata__ is not an object");
                    foreach (var m in meta.Properties())
                        metadata[m.Name] = m.Value.Type == JTokenType.String ? (string)m.Value! : throw Bad($"__metadata__ value '{m.Name}' is not a string");
                    continue;
                }
                entries.Add(ParseEntry(name, value, dataLength, Bad));
            }
            if (reader.TokenType != JsonToken.EndObject) throw Bad("malformed header JSON (expected a key or the end of the object)");
            if (reader.Read() && reader.TokenType != JsonToken.None) throw Bad("trailing data after the header JSON");
        }
        catch (Exception e) when (e is JsonException or InvalidCastException or System.Text.DecoderFallbackException or ArgumentException)
        {
            throw Bad($"malformed header JSON ({e.Message.Split('\n')[0].Trim()})");
        }
        var sorted = entries.Where(x => x.ByteCount > 0).OrderBy(x => x.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw Bad($"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        return (entries, metadata, dataStart);
    }

    /// <summary>JSON load settings that refuse a key given twice in one object (instead of keeping the last value).</summary>
    internal static readonly JsonLoadSettings DuplicateKeysRefused = new() { DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Error };

    private static SafetensorsEntry ParseEntry(string name, JToken value, long dataLength, Func<string, CompressException> Bad)
    {
        {
            var prop = (Name: name, Value: value);
            if (prop.Value is not JObject e) throw Bad($"entry '{prop.Name}' is not an object");
            string? dtype = e["dtype"]?.Type == JTokenType.String ? (string?)e["dtype"] : null;
            if (dtype is null) throw Bad($"tensor '{prop.Name}' has no dtype");
            if (!TensorDType.TryParse(dtype, out var st, out int size)) throw Bad($"tensor '{prop.Name}' has unsupported dtype '{dtype}' (supported: {string.Join(", ", TensorDType.Names)})");
            if (e["shape"] is not JArray shapeArr || shapeArr.Any(x => x.Type != JTokenType.Integer)) throw Bad($"tensor '{prop.Name}' has no integer shape");
            if (shapeArr.Count > 16) throw Bad($"tensor '{prop.Name}' has rank {shapeArr.Count} (at most 16)");
            var shape = new long[shapeArr.Count];
            long count = 1, nonZero = size;
            for (int i = 0; i < shape.Length; i++)
            {
                if (shapeArr[i] is not JValue { Value: long d }) throw Bad($"tensor '{prop.Name}' has a dimension too large");
                if (d < 0) throw Bad($"tensor '{prop.Name}' has a negative dimension {d}");
                shape[i] = d;
                count *= d;   // stays 0 once a dimension is 0; otherwise bounded by nonZero below
                // The non-zero dimensions must not overflow either: libtorch refuses such a shape even when another
                // dimension is 0 (the tensor would be empty, yet its strides overflow).
                if (d > 0 && nonZero > long.MaxValue / d) throw Bad($"tensor '{prop.Name}' has a shape whose size overflows");
                if (d > 0) nonZero *= d;
            }
            if (e["data_offsets"] is not JArray off || off.Count != 2 || off.Any(x => x.Type != JTokenType.Integer))
                throw Bad($"tensor '{prop.Name}' has no [begin, end] data_offsets");
            long begin, end;
            try { begin = (long)off[0]; end = (long)off[1]; } catch (OverflowException) { throw Bad($"tensor '{prop.Name}' has data_offsets out of range"); }
            if (begin < 0 || end < begin || end > dataLength)
                throw Bad($"tensor '{prop.Name}' has data_offsets [{begin}, {end}] outside the data section ({dataLength} bytes)");
            long expected;
            try { expected = checked(count * size); } catch (OverflowException) { throw Bad($"tensor '{prop.Name}' has a byte size that overflows"); }
            if (end - begin != expected)
                throw Bad($"tensor '{prop.Name}' has {end - begin} bytes of data but shape × {dtype} needs {expected}");
            if (expected > int.MaxValue) throw Bad($"tensor '{prop.Name}' is larger than 2 GiB, which this reader does not support");
            return new SafetensorsEntry(prop.Name, dtype, st, shape, begin, end);
        }
    }
}
