using System.Runtime.InteropServices;

namespace Compressor.Engine.IO;

/// <summary>Reading files that come from outside: only regular files (a FIFO, <c>/dev/zero</c> or another device is
/// refused before it is opened), at most a stated number of bytes (counted while reading, never trusted from the
/// file's length), and paths that a file names (ONNX external data, shards of an index, a plugin's assembly) resolved
/// with every symbolic link followed and refused unless they end inside the naming file's folder.</summary>
public static class InputFiles
{
    /// <summary>Throws unless <paramref name="path"/> (links followed) is a regular file; returns its size.</summary>
    /// <param name="path">The file.</param>
    /// <param name="kind">The error kind (an input file by default).</param>
    /// <exception cref="CompressException">Missing, or a folder, FIFO, device or socket, in one line.</exception>
    public static long RequireRegular(string path, ErrorKind kind = ErrorKind.InvalidInput)
    {
        var (type, size) = FileType.Stat(path);
        return type switch
        {
            FileTypeKind.Regular => size,
            FileTypeKind.Missing => throw new CompressException(kind, $"{path}: no such file"),
            _ => throw new CompressException(kind, $"{path}: is {FileType.Describe(type)}, not a regular file"),
        };
    }

    /// <summary>Opens a regular file for reading (see <see cref="RequireRegular"/>).</summary>
    /// <exception cref="CompressException">Not a regular file, or unreadable, in one line.</exception>
    public static FileStream OpenRead(string path, ErrorKind kind = ErrorKind.InvalidInput, int bufferSize = 1 << 16)
    {
        RequireRegular(path, kind);
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(kind, $"{path}: cannot open ({e.Message})");
        }
    }

    /// <summary>The bytes of a regular file of at most <paramref name="maxBytes"/> bytes; the limit is enforced on
    /// the bytes actually read, so a file that grows or lies about its length cannot exceed it.</summary>
    /// <exception cref="CompressException">Not a regular file, unreadable, or larger than the limit, in one line.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, ErrorKind kind = ErrorKind.InvalidInput)
    {
        using var fs = OpenRead(path, kind);
        try
        {
            long declared = fs.Length;
            if (declared > maxBytes) throw TooLarge(path, maxBytes, kind);
            using var ms = new MemoryStream((int)Math.Min(declared, maxBytes));
            var buffer = new byte[1 << 16];
            int n;
            while ((n = fs.Read(buffer)) > 0)
            {
                if (ms.Length + n > maxBytes) throw TooLarge(path, maxBytes, kind);
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(kind, $"{path}: cannot read ({e.Message})");
        }
    }

    /// <summary>The UTF-8 text of a regular file of at most <paramref name="maxBytes"/> bytes (see <see cref="ReadAllBytes"/>).</summary>
    /// <exception cref="CompressException">As <see cref="ReadAllBytes"/>, or not valid UTF-8.</exception>
    public static string ReadAllText(string path, long maxBytes, ErrorKind kind = ErrorKind.InvalidInput)
    {
        var bytes = ReadAllBytes(path, maxBytes, kind);
        try
        {
            var span = bytes.AsSpan();
            if (span.StartsWith("\xEF\xBB\xBF"u8)) span = span[3..];
            return new System.Text.UTF8Encoding(false, true).GetString(span);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new CompressException(kind, $"{path}: not valid UTF-8 text");
        }
    }

    /// <summary>Resolves <paramref name="name"/>, a path written inside <paramref name="namingFile"/> (relative to its
    /// folder), to the real path of a regular file: the name must be relative with no <c>..</c> segment, and after every
    /// symbolic link is followed the file must lie inside the naming file's folder — the folder as given or the folder
    /// of the naming file's own real path (so that a Hugging Face cache snapshot, whose files all link into one
    /// <c>blobs</c> folder, resolves).</summary>
    /// <param name="namingFile">The file that names the path (an ONNX model, an index).</param>
    /// <param name="name">The path as written in it.</param>
    /// <param name="what">What names it, for messages (e.g. <c>model.onnx: initializer 'w'</c>).</param>
    /// <param name="kind">The error kind.</param>
    /// <exception cref="CompressException">A path that leaves the folder, a missing file or not a regular file, in one line.</exception>
    public static string ResolveInside(string namingFile, string name, string what, ErrorKind kind = ErrorKind.InvalidInput)
    {
        string full = Path.GetFullPath(namingFile);
        return ResolveInFolder(Path.GetDirectoryName(full)!, name, what, kind, Path.GetDirectoryName(RealPath(full) ?? full), Path.GetFileName(full));
    }

    /// <summary>As <see cref="ResolveInside"/> for a path relative to <paramref name="folder"/> (the folder of the
    /// file that names it), which must resolve inside that folder (or <paramref name="alsoInside"/>).</summary>
    public static string ResolveInFolder(string folder, string name, string what, ErrorKind kind = ErrorKind.InvalidInput,
        string? alsoInside = null, string? namedBy = null)
    {
        string owner = namedBy ?? "the model";
        if (string.IsNullOrEmpty(name) || name.Contains('\0') || Path.IsPathRooted(name) || name.Contains('\\')
            || name.Split('/').Any(s => s == ".."))
            throw new CompressException(kind, $"{what}: '{name}' is not a relative path inside the folder of {owner} (path traversal refused)");
        folder = Path.GetFullPath(folder);
        string candidate = Path.Combine(folder, name);
        string real = RealPath(candidate) ?? throw new CompressException(kind, $"{what}: '{name}' does not exist");
        var roots = new[] { RealPath(folder), alsoInside }
            .Where(r => r is not null).Select(r => r!.TrimEnd('/') + "/").Distinct();
        if (!roots.Any(r => real.StartsWith(r, StringComparison.Ordinal)))
            throw new CompressException(kind, $"{what}: '{name}' resolves outside the folder of {owner} (symbolic links are followed; path traversal refused)");
        var type = FileType.Of(real);
        if (type != FileTypeKind.Regular)
            throw new CompressException(kind, $"{what}: '{name}' is {FileType.Describe(type)}, not a regular file");
        return real;
    }

    /// <summary>The canonical absolute path of <paramref name="path"/> with every symbolic link resolved, or null when
    /// it does not exist (or cannot be resolved: a link loop, a permission).</summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                IntPtr p = realpath(path, IntPtr.Zero);
                if (p == IntPtr.Zero) return null;
                try { return Marshal.PtrToStringUTF8(p); }
                finally { free(p); }
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
        }
        var info = new FileInfo(path);
        if (!info.Exists && !Directory.Exists(path)) return null;
        return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }

    private static CompressException TooLarge(string path, long maxBytes, ErrorKind kind) =>
        new(kind, $"{path}: larger than {FormatBytes(maxBytes)} (the limit for this kind of file)");

    private static string FormatBytes(long bytes) => Compressor.Sdk.Plugins.MemoryBudget.Format(bytes);

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void free(IntPtr p);
}
