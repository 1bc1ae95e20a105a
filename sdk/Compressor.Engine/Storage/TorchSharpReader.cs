using System.Text;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>Reads TorchSharp's <c>module.save</c> files tensor by tensor. Layout: a LEB128 count of tensors, then for
/// each, its name (a LEB128 byte length and UTF-8, as <c>BinaryWriter.Write(string)</c> writes it), its element type
/// (LEB128 of TorchSharp's <c>ScalarType</c> code), its rank and dimensions (LEB128 each) and its raw little-endian
/// elements, row-major. The whole index is walked and checked against the file (known types, rank ≤ 16, sizes without
/// overflow, data inside the file, no bytes left over) before any tensor is read.</summary>
public sealed class TorchSharpReader : ICheckpointReader
{
    /// <summary>The longest tensor name accepted, in bytes.</summary>
    public const int MaxNameBytes = 4096;

    private readonly FileStream _stream;
    private readonly Dictionary<string, (CheckpointEntry Entry, long Offset)> _byName;

    private TorchSharpReader(string path, FileStream stream, List<(CheckpointEntry Entry, long Offset)> entries)
    {
        Path = path;
        _stream = stream;
        Tensors = entries.Select(e => e.Entry).ToList();
        _byName = entries.ToDictionary(e => e.Entry.Name, StringComparer.Ordinal);
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public string Format => TorchSharpFormat.FormatName;

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <summary>Always empty: the format has no metadata.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Missing, truncated or malformed file, in one line.</exception>
    public static TorchSharpReader Open(string path)
    {
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot open ({e.Message})");
        }
        try
        {
            CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{path}: not a valid TorchSharp checkpoint: {what}");
            long length = fs.Length;
            long Leb(string what)
            {
                long v = 0;
                for (int shift = 0; shift < 63; shift += 7)
                {
                    int b = fs.ReadByte();
                    if (b < 0) throw Bad($"truncated while reading {what}");
                    v |= (long)(b & 0x7f) << shift;
                    if ((b & 0x80) == 0) return v;
                }
                throw Bad($"{what} is not a valid LEB128 number");
            }
            long count = Leb("the tensor count");
            if (count > length) throw Bad($"{count} tensors in a file of {length} bytes");
            var entries = new List<(CheckpointEntry, long)>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (long i = 0; i < count; i++)
            {
                long nameLength = Leb($"the name length of tensor {i}");
                if (nameLength is <= 0 or > MaxNameBytes) throw Bad($"tensor {i} has a name of {nameLength} bytes");
                var nameBytes = new byte[nameLength];
                if (fs.ReadAtLeast(nameBytes, nameBytes.Length, throwOnEndOfStream: false) < nameLength) throw Bad($"truncated in the name of tensor {i}");
                string name;
                try { name = new UTF8Encoding(false, true).GetString(nameBytes); }
                catch (DecoderFallbackException) { throw Bad($"the name of tensor {i} is not UTF-8"); }
                if (!names.Add(name)) throw Bad($"tensor '{name}' appears twice");
                long code = Leb($"the type of '{name}'");
                if (!TryScalarType(code, out var type)) throw Bad($"tensor '{name}' has unsupported element type code {code}");
                long rank = Leb($"the rank of '{name}'");
                if (rank > 16) throw Bad($"tensor '{name}' has rank {rank} (at most 16)");
                var shape = new long[rank];
                long elements = 1;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = Leb($"the shape of '{name}'");
                    try { elements = checked(elements * shape[d]); }
                    catch (OverflowException) { throw Bad($"tensor '{name}' has a shape whose size overflows"); }
                }
                long bytes;
                try { bytes = checked(elements * TensorDType.SizeOf(type)); }
                catch (OverflowException) { throw Bad($"tensor '{name}' has a byte size that overflows"); }
                long offset = fs.Position;
                if (bytes > length - offset) throw Bad($"tensor '{name}' needs {bytes} bytes at offset {offset}, past the end of the file ({length} bytes)");
                if (bytes > int.MaxValue) throw Bad($"tensor '{name}' is larger than 2 GiB, which this reader does not support");
                fs.Seek(bytes, SeekOrigin.Current);
                entries.Add((new CheckpointEntry(name, type.ToString(), type, shape, bytes), offset));
            }
            if (fs.Position != length) throw Bad($"{length - fs.Position} bytes left over after the last tensor");
            return new TorchSharpReader(path, fs, entries);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public Tensor Read(string name)
    {
        var (entry, offset) = _byName.TryGetValue(name, out var e) ? e : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");
        var t = empty(entry.Shape, entry.ScalarType);
        if (entry.ByteCount == 0) return t;
        try
        {
            var span = t.bytes;
            _stream.Seek(offset, SeekOrigin.Begin);
            _stream.ReadExactly(span);
            t.bytes = span;
            return t;
        }
        catch (EndOfStreamException)
        {
            t.Dispose();
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: truncated while reading tensor '{name}'");
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _stream.Dispose();

    /// <summary>Reads an unsigned LEB128 number from <paramref name="data"/> at <paramref name="at"/>; false when it is
    /// cut short by the end of <paramref name="data"/> or longer than 63 bits.</summary>
    internal static bool TryLeb128(ReadOnlySpan<byte> data, ref int at, out long value)
    {
        value = 0;
        for (int shift = 0; shift < 63 && at < data.Length; shift += 7)
        {
            byte b = data[at++];
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }

    /// <summary>The element type of a TorchSharp <c>ScalarType</c> code, when this tool can hold it.</summary>
    internal static bool TryScalarType(long code, out ScalarType type)
    {
        type = default;
        if (code is < 0 or > 64) return false;  // before the cast: ScalarType is one byte wide
        type = (ScalarType)code;
        if (!Enum.IsDefined(type)) return false;
        try { TensorDType.SizeOf(type); return true; }
        catch (NotSupportedException) { return false; }
    }
}
