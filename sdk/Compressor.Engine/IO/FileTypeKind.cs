namespace Compressor.Engine.IO;

/// <summary>What a path is (<see cref="FileType.Of"/>).</summary>
public enum FileTypeKind
{
    /// <summary>Nothing is there (or a path component is not a folder).</summary>
    Missing,
    /// <summary>A regular file: the only kind read as an input.</summary>
    Regular,
    /// <summary>A folder.</summary>
    Directory,
    /// <summary>A FIFO (named pipe).</summary>
    Fifo,
    /// <summary>A character device (<c>/dev/zero</c>, a terminal).</summary>
    CharacterDevice,
    /// <summary>A block device.</summary>
    BlockDevice,
    /// <summary>A Unix socket.</summary>
    Socket,
    /// <summary>Something else.</summary>
    Other,
    /// <summary>It could not be examined (permissions, a link loop).</summary>
    Unreadable,
}
