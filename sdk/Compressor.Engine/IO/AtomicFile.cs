namespace Compressor.Engine.IO;

/// <summary>Writes files so that they appear under their final name only when complete: the content goes to a
/// temporary file in the same folder, is flushed to disk, then renamed over the target. An interruption leaves at
/// most a temporary file (named <c>.NAME.tmp-*</c>), never a half-written file under the final name.</summary>
public static class AtomicFile
{
    /// <summary>The prefix of temporary files, so that cleaners and tests can recognise them.</summary>
    public const string TempPrefix = ".";

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $"{TempPrefix}{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
            SyncDirectory(dir);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    /// <summary>Writes UTF-8 text (no BOM) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var b = new System.Text.UTF8Encoding(false).GetBytes(text); s.Write(b); });

    /// <summary>Flushes a folder's entries (renames, new and removed names) to disk, where the system allows it
    /// (Linux and macOS; elsewhere, and on file systems that refuse, it does nothing): a rename is durable only once
    /// its folder is.</summary>
    public static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            int fd = open(directory, 0);
            if (fd < 0) return;
            try { fsync(fd); }
            finally { close(fd); }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int fsync(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close")]
    private static extern int close(int fd);
}
