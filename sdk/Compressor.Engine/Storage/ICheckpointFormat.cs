namespace Compressor.Engine.Storage;

/// <summary>A checkpoint file format, recognised by content (never by file extension).</summary>
public interface ICheckpointFormat
{
    /// <summary>The format's name, as <c>compress inspect</c> reports it.</summary>
    string Name { get; }

    /// <summary>Whether a file starting with <paramref name="head"/> (up to 64 bytes) of total
    /// <paramref name="length"/> bytes is in this format.</summary>
    bool Sniff(ReadOnlySpan<byte> head, long length);

    /// <summary>Opens and validates the file.</summary>
    /// <exception cref="CompressException">Malformed or unsafe file, in one line.</exception>
    ICheckpointReader Open(string path);
}
