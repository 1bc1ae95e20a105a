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

    /// <summary>Reads a uint8 IDX file into a uint8 tensor of its shape. The header is read first, and the data is
    /// read up to what its dimensions declare and no further (one byte more is a mismatch): a gzip file inflates only
    /// as far as its header claims, so a small file that inflates to gigabytes is refused after the declared bytes.</summary>
    /// <exception cref="CompressException">Malformed or truncated file, in one line.</exception>
    public static Tensor ReadBytes(string path)
    {
        CompressException Bad(string why) => new(ErrorKind.InvalidInput, $"{path}: not a valid IDX file: {why}");
        try
        {
            using var fs = IO.InputFiles.OpenRead(path);
            Span<byte> magic = stackalloc byte[2];
            int got = fs.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            fs.Position = 0;
            using Stream s = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(fs, CompressionMode.Decompress, leaveOpen: true) : fs;
            var head = new byte[4];
            int n = s.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            if (n < 4) throw Bad("shorter than its 4-byte magic");
            if (head[0] != 0 || head[1] != 0) throw Bad("bad magic");
            if (head[2] != 0x08) throw Bad($"element type 0x{head[2]:x2} (only unsigned bytes, 0x08, are supported)");
            int rank = head[3];
            if (rank < 1 || rank > 4) throw Bad($"rank {rank} (1..4 supported)");
            var dimBytes = new byte[4 * rank];
            if (s.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false) < dimBytes.Length) throw Bad("truncated dimensions");
            var dims = new long[rank];
            long count = 1;
            for (int i = 0; i < rank; i++)
            {
                uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i));
                if (d > int.MaxValue) throw Bad($"dimension {d} too large");
                dims[i] = d;
                try { count = checked(count * d); } catch (OverflowException) { throw Bad("dimensions overflow"); }
            }
            if (count > MaxBytes) throw Bad($"dimensions say {count} bytes of data, more than the {MaxBytes}-byte limit");
            // Plain files: the data must be there before anything of its size is allocated.
            if (s == fs && fs.Length - fs.Position != count) throw Bad($"dimensions say {count} bytes of data, the file has {fs.Length - fs.Position}");
            var data = new byte[count];
            int read = s.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (read < count) throw Bad($"dimensions say {count} bytes of data, the file has {read}");
            if (s.ReadByte() >= 0) throw Bad($"dimensions say {count} bytes of data, the file has more");
            var t = empty(dims, ScalarType.Byte);
            if (count > 0) t.bytes = data;
            return t;
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
