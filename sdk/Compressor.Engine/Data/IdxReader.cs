using System.Buffers.Binary;
using System.IO.Compression;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Reads IDX files (the MNIST format: magic 0x0000, a type byte, a rank byte, big-endian int32 dims, raw
/// big-endian data), plain or gzipped. The dims are checked against the data actually present before anything
/// proportional to them is allocated.</summary>
public static class IdxReader
{
    /// <summary>Largest accepted decompressed size (2 GiB).</summary>
    public const long MaxBytes = int.MaxValue;

    /// <summary>Reads a uint8 IDX file into a uint8 tensor of its shape.</summary>
    /// <exception cref="CompressException">Malformed or truncated file, in one line.</exception>
    public static Tensor ReadBytes(string path)
    {
        byte[] data = ReadRaw(path);
        CompressException Bad(string why) => new(ErrorKind.InvalidInput, $"{path}: not a valid IDX file: {why}");
        if (data.Length < 4) throw Bad("shorter than its 4-byte magic");
        if (data[0] != 0 || data[1] != 0) throw Bad("bad magic");
        if (data[2] != 0x08) throw Bad($"element type 0x{data[2]:x2} (only unsigned bytes, 0x08, are supported)");
        int rank = data[3];
        if (rank < 1 || rank > 4) throw Bad($"rank {rank} (1..4 supported)");
        if (data.Length < 4 + 4 * rank) throw Bad("truncated dimensions");
        var dims = new long[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4 + 4 * i));
            if (d > int.MaxValue) throw Bad($"dimension {d} too large");
            dims[i] = d;
            try { count = checked(count * d); } catch (OverflowException) { throw Bad("dimensions overflow"); }
        }
        long offset = 4 + 4 * rank;
        if (data.Length - offset != count) throw Bad($"dimensions say {count} bytes of data, the file has {data.Length - offset}");
        var t = empty(dims, ScalarType.Byte);
        t.bytes = data.AsSpan((int)offset);
        return t;
    }

    private static byte[] ReadRaw(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            Span<byte> head = stackalloc byte[2];
            int n = fs.Read(head);
            fs.Position = 0;
            Stream s = n == 2 && head[0] == 0x1f && head[1] == 0x8b ? new GZipStream(fs, CompressionMode.Decompress) : fs;
            using var ms = new MemoryStream();
            var buffer = new byte[1 << 16];
            int read;
            while ((read = s.Read(buffer)) > 0)
            {
                if (ms.Length + read > MaxBytes) throw new CompressException(ErrorKind.InvalidInput, $"{path}: larger than {MaxBytes} bytes once decompressed");
                ms.Write(buffer, 0, read);
            }
            return ms.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: corrupt gzip data ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read ({e.Message})");
        }
    }
}
