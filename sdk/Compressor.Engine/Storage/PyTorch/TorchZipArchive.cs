using System.IO.Compression;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>The zip container of a <c>torch.save</c> file, validated before anything is read from it: a readable
/// central directory, entry names that stay inside the archive (no absolute paths, drive letters, backslashes or
/// <c>..</c> segments), no duplicate names, declared sizes within the file (stored entries) or within a sane
/// compression ratio (deflated ones, so that a zip bomb is refused before it is inflated), and exactly one
/// <c>PREFIX/data.pkl</c>. Entries are then read by byte range, never beyond their declared size.</summary>
internal sealed class TorchZipArchive : IDisposable
{
    /// <summary>The largest <c>data.pkl</c> read (the pickle holds only the structure, never tensor data).</summary>
    public const long MaxPickleBytes = 256L << 20;

    /// <summary>The largest uncompressed/compressed ratio accepted for a deflated entry (PyTorch stores entries
    /// uncompressed; deflate itself cannot exceed about 1032:1).</summary>
    public const long MaxCompressionRatio = 100;

    /// <summary>The most entries an archive may have.</summary>
    public const int MaxEntries = 1_000_000;

    private readonly FileStream _stream;
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries;

    private TorchZipArchive(string path, FileStream stream, ZipArchive zip, Dictionary<string, ZipArchiveEntry> entries, string prefix)
    {
        Path = path;
        _stream = stream;
        _zip = zip;
        _entries = entries;
        Prefix = prefix;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The record prefix (the folder that holds <c>data.pkl</c>): <c>archive</c>, or the file's base name
    /// for files that older PyTorch versions wrote.</summary>
    public string Prefix { get; }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static TorchZipArchive Open(string path)
    {
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot open ({e.Message})");
        }
        ZipArchive? zip = null;
        try
        {
            CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{path}: not a valid PyTorch checkpoint: {what}");
            IReadOnlyCollection<ZipArchiveEntry> all;
            try
            {
                zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: true);
                all = zip.Entries; // the central directory is parsed here, on first use
            }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
            {
                throw Bad($"unreadable zip archive, truncated or corrupt ({OneLine(e.Message)})");
            }
            var entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            long fileLength = fs.Length;
            int count = 0;
            long totalPacked = 0;
            foreach (var e in all)
            {
                if (++count > MaxEntries) throw Bad($"more than {MaxEntries} entries");
                string name = e.FullName;
                if (!IsSafeName(name)) throw Bad($"entry name '{RestrictedUnpickler.Printable(name)}' is not a plain relative path inside the archive (path traversal refused)");
                if (!entries.TryAdd(name, e)) throw Bad($"entry '{RestrictedUnpickler.Printable(name)}' appears twice");
                long size = e.Length, packed = e.CompressedLength;
                if (size < 0 || packed < 0 || packed > fileLength)
                    throw Bad($"entry '{name}' declares {packed} compressed bytes, more than the file's {fileLength}");
                if (size != packed && size > MaxCompressionRatio * Math.Max(packed, 1))
                    throw Bad($"entry '{name}' declares {size} bytes from {packed} compressed bytes, a ratio above {MaxCompressionRatio}:1 (zip bomb refused)");
                // Entries that do not overlap cannot hold more compressed bytes than the file: more means entries
                // share their data (the overlapping-entry zip bomb).
                totalPacked += packed;
                if (totalPacked > fileLength)
                    throw Bad($"entries declare {totalPacked} compressed bytes in all, more than the file's {fileLength}: they overlap (zip bomb refused)");
            }
            var pickles = entries.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - "/data.pkl".Length).ToList();
            if (pickles.Count == 0) throw Bad("no PREFIX/data.pkl entry (a zip archive, but not one written by torch.save)");
            if (pickles.Count > 1) throw Bad($"{pickles.Count} data.pkl entries ({string.Join(", ", pickles.Take(3))})");
            var archive = new TorchZipArchive(path, fs, zip, entries, pickles[0][..^"/data.pkl".Length]);
            if (archive.Find("data.pkl")!.Length > MaxPickleBytes) throw Bad($"data.pkl declares more than {MaxPickleBytes} bytes");
            return archive;
        }
        catch
        {
            zip?.Dispose();
            fs.Dispose();
            throw;
        }
    }

    /// <summary>The declared uncompressed size of <c>PREFIX/RECORD</c>, or null when absent.</summary>
    public long? SizeOf(string record) => Find(record)?.Length;

    /// <summary>Every record name (without the prefix) under the prefix.</summary>
    public IEnumerable<string> Records => _entries.Keys.Where(n => n.StartsWith(Prefix + "/", StringComparison.Ordinal)).Select(n => n[(Prefix.Length + 1)..]);

    /// <summary>Reads the whole of a small record (at most <paramref name="max"/> bytes), or null when absent.</summary>
    public byte[]? ReadAll(string record, long max)
    {
        var e = Find(record);
        if (e is null) return null;
        if (e.Length > max) throw new CompressException(ErrorKind.InvalidInput, $"{Path}: record '{record}' has {e.Length} bytes (at most {max})");
        var bytes = new byte[e.Length];
        ReadRange(record, 0, bytes);
        return bytes;
    }

    /// <summary>Reads <paramref name="destination"/>.Length bytes of <c>PREFIX/RECORD</c> from byte
    /// <paramref name="offset"/>; the range must lie inside the record's declared size.</summary>
    public void ReadRange(string record, long offset, Span<byte> destination)
    {
        var e = Find(record) ?? throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no record '{record}'");
        if (offset < 0 || offset + destination.Length > e.Length)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: bytes [{offset}, {offset + destination.Length}) lie outside record '{record}' ({e.Length} bytes)");
        try
        {
            using var s = e.Open();
            if (offset > 0)
            {
                if (s.CanSeek) s.Seek(offset, SeekOrigin.Begin);
                else
                {
                    var skip = new byte[(int)Math.Min(offset, 1 << 20)];
                    for (long left = offset; left > 0;) left -= s.Read(skip, 0, (int)Math.Min(left, skip.Length)) is > 0 and var n ? n : throw new EndOfStreamException();
                }
            }
            s.ReadExactly(destination);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: record '{record}' is truncated or corrupt ({OneLine(ex.Message)})");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _zip.Dispose();
        _stream.Dispose();
    }

    private ZipArchiveEntry? Find(string record) => _entries.GetValueOrDefault(Prefix + "/" + record);

    /// <summary>A relative path of plain segments: no leading slash, backslash, drive, control character, empty,
    /// <c>.</c> or <c>..</c> segment.</summary>
    internal static bool IsSafeName(string name)
    {
        if (name.Length == 0 || name.Length > 1024 || name[0] == '/' || name.Contains('\\') || name.Contains(':') || name.Any(char.IsControl)) return false;
        var segments = name.Split('/');
        for (int i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            if (s == "." || s == "..") return false;
            if (s.Length == 0 && i != segments.Length - 1) return false; // "a//b"; a trailing slash marks a folder entry
        }
        return true;
    }

    private static string OneLine(string message) => message.Split('\n')[0].Trim();
}
