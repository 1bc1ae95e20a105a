using System.Runtime.InteropServices;

namespace Compressor.Engine.IO;

/// <summary>What a path is on disk, asked of the kernel (<c>statx</c>, following symbolic links) before the file is
/// opened: opening a FIFO blocks until a writer comes, and a character device such as <c>/dev/zero</c> never ends,
/// so only a <see cref="FileTypeKind.Regular"/> file may be read as an input. Where <c>statx</c> is not available
/// (not Linux), the answer comes from the file system attributes and a FIFO or device reads as regular.</summary>
public static class FileType
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1, StatxSize = 0x200;
    private const ushort FormatMask = 0xF000;

    /// <summary>The kind of <paramref name="path"/> (links followed), <see cref="FileTypeKind.Missing"/> when nothing is there.</summary>
    public static FileTypeKind Of(string path) => Stat(path).Kind;

    /// <summary>The kind and size of <paramref name="path"/> (links followed).</summary>
    public static (FileTypeKind Kind, long Size) Stat(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var buffer = new byte[256];
                int rc = statx(AtFdCwd, path, 0, StatxType | StatxSize, buffer);
                if (rc != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    return (errno is 2 or 20 ? FileTypeKind.Missing : FileTypeKind.Unreadable, 0);   // ENOENT, ENOTDIR
                }
                ushort mode = BitConverter.ToUInt16(buffer, 0x1C);
                long size = BitConverter.ToInt64(buffer, 0x28);
                return ((mode & FormatMask) switch
                {
                    0x8000 => FileTypeKind.Regular,
                    0x4000 => FileTypeKind.Directory,
                    0x1000 => FileTypeKind.Fifo,
                    0x2000 => FileTypeKind.CharacterDevice,
                    0x6000 => FileTypeKind.BlockDevice,
                    0xC000 => FileTypeKind.Socket,
                    _ => FileTypeKind.Other,
                }, size);
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
        }
        if (Directory.Exists(path)) return (FileTypeKind.Directory, 0);
        if (!File.Exists(path)) return (FileTypeKind.Missing, 0);
        return (FileTypeKind.Regular, new FileInfo(path).Length);
    }

    /// <summary>The kind in words, for messages (<c>a FIFO (named pipe)</c>, <c>a character device</c>, …).</summary>
    public static string Describe(FileTypeKind kind) => kind switch
    {
        FileTypeKind.Regular => "a regular file",
        FileTypeKind.Directory => "a folder",
        FileTypeKind.Fifo => "a FIFO (named pipe)",
        FileTypeKind.CharacterDevice => "a character device",
        FileTypeKind.BlockDevice => "a block device",
        FileTypeKind.Socket => "a socket",
        FileTypeKind.Missing => "missing",
        FileTypeKind.Unreadable => "not accessible",
        _ => "not a regular file",
    };

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
}
