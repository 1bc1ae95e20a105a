using System.Buffers.Binary;
using System.Text;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>Writes a zip archive the way PyTorch's <c>PyTorchStreamWriter</c> (miniz) does for <c>torch.save</c>:
/// every record stored uncompressed, its data aligned to 64 bytes by an extra field with id <c>"FB"</c> whose
/// payload is that many <c>'Z'</c> bytes (present, possibly empty, on every local header), DOS date and time 0,
/// no data descriptors, no comments; zip64 extra fields and end records only where a size or offset needs them.
/// The central directory repeats each entry without the padding field.</summary>
internal sealed class StoredZipWriter
{
    /// <summary>The alignment of record data (PyTorch's <c>kFieldAlignment</c>).</summary>
    public const int Alignment = 64;

    private readonly Stream _out;
    private readonly List<(byte[] Name, uint Crc, long Size, long Offset)> _central = new();
    private long _pos;

    /// <summary>Writes to <paramref name="output"/> from its current position.</summary>
    public StoredZipWriter(Stream output) => _out = output;

    /// <summary>Adds one record.</summary>
    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        uint crc = Crc32(data);
        long size = data.Length, offset = _pos;
        bool zip64 = size >= uint.MaxValue;
        int zip64Extra = zip64 ? 4 + 16 : 0;
        long start = offset + 30 + nameBytes.Length + zip64Extra + 4;
        int pad = (int)((Alignment - start % Alignment) % Alignment);
        var header = new byte[30 + nameBytes.Length + zip64Extra + 4 + pad];
        var h = header.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], (ushort)(zip64 ? 45 : 0)); // version needed (miniz: 0 for stored)
        // flags, method (0 = stored), DOS time, DOS date: all 0.
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(zip64Extra + 4 + pad));
        nameBytes.CopyTo(h[30..]);
        var extra = h[(30 + nameBytes.Length)..];
        if (zip64)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x0001);
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], 16);
            BinaryPrimitives.WriteInt64LittleEndian(extra[4..], size);
            BinaryPrimitives.WriteInt64LittleEndian(extra[12..], size);
            extra = extra[20..];
        }
        extra[0] = (byte)'F';
        extra[1] = (byte)'B';
        BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)pad);
        extra[4..].Fill((byte)'Z');
        _out.Write(header);
        _out.Write(data);
        _pos += header.Length + size;
        _central.Add((nameBytes, crc, size, offset));
    }

    /// <summary>Writes the central directory and the end records.</summary>
    public void Finish()
    {
        long cdStart = _pos;
        foreach (var (name, crc, size, offset) in _central)
        {
            bool bigSize = size >= uint.MaxValue, bigOffset = offset >= uint.MaxValue;
            int extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
            var e = new byte[46 + name.Length + extraLength];
            var s = e.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(s[4..], (ushort)(extraLength > 0 ? 45 : 0)); // version made by
            BinaryPrimitives.WriteUInt16LittleEndian(s[6..], (ushort)(extraLength > 0 ? 45 : 0)); // version needed
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], bigSize ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], bigSize ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(s[28..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(s[30..], (ushort)extraLength);
            BinaryPrimitives.WriteUInt32LittleEndian(s[42..], bigOffset ? uint.MaxValue : (uint)offset);
            name.CopyTo(s[46..]);
            if (extraLength > 0)
            {
                var x = s[(46 + name.Length)..];
                BinaryPrimitives.WriteUInt16LittleEndian(x, 0x0001);
                BinaryPrimitives.WriteUInt16LittleEndian(x[2..], (ushort)(extraLength - 4));
                int at = 4;
                if (bigSize) { BinaryPrimitives.WriteInt64LittleEndian(x[at..], size); BinaryPrimitives.WriteInt64LittleEndian(x[(at + 8)..], size); at += 16; }
                if (bigOffset) BinaryPrimitives.WriteInt64LittleEndian(x[at..], offset);
            }
            _out.Write(e);
            _pos += e.Length;
        }
        long cdSize = _pos - cdStart;
        bool zip64End = cdStart >= uint.MaxValue || cdSize >= uint.MaxValue || _central.Count >= ushort.MaxValue;
        if (zip64End)
        {
            long eocd64 = _pos;
            var z = new byte[56 + 20];
            var s = z.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x06064b50);
            BinaryPrimitives.WriteInt64LittleEndian(s[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(s[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
            BinaryPrimitives.WriteInt64LittleEndian(s[24..], _central.Count);
            BinaryPrimitives.WriteInt64LittleEndian(s[32..], _central.Count);
            BinaryPrimitives.WriteInt64LittleEndian(s[40..], cdSize);
            BinaryPrimitives.WriteInt64LittleEndian(s[48..], cdStart);
            BinaryPrimitives.WriteUInt32LittleEndian(s[56..], 0x07064b50);
            BinaryPrimitives.WriteInt64LittleEndian(s[64..], eocd64);
            BinaryPrimitives.WriteUInt32LittleEndian(s[72..], 1);
            _out.Write(z);
            _pos += z.Length;
        }
        var end = new byte[22];
        var t = end.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(t, 0x06054b50);
        ushort count = (ushort)Math.Min(_central.Count, ushort.MaxValue);
        BinaryPrimitives.WriteUInt16LittleEndian(t[8..], count);
        BinaryPrimitives.WriteUInt16LittleEndian(t[10..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(t[12..], zip64End ? uint.MaxValue : (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(t[16..], zip64End ? uint.MaxValue : (uint)cdStart);
        _out.Write(end);
        _pos += end.Length;
    }

    /// <summary>The zip (IEEE 802.3) CRC-32 of <paramref name="data"/>.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);
}
