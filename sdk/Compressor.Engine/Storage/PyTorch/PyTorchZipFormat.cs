
namespace Compressor.Engine.Storage.PyTorch;

/// <summary>PyTorch <c>torch.save</c> checkpoints: a zip archive whose first record is <c>PREFIX/data.pkl</c>
/// (read by <see cref="PyTorchZipReader"/>). Files in the legacy pre-zip format of PyTorch &lt; 1.6 are recognised
/// only to be refused with a message that says what to do.</summary>
public sealed class PyTorchZipFormat : ICheckpointFormat
{
    /// <summary>The format's name.</summary>
    public const string FormatName = "pytorch";

    // The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2, LONG1 of 10 bytes).
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    /// <inheritdoc/>
    public string Name => FormatName;

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length)
    {
        if (head.StartsWith(LegacyMagic)) return true;
        if (head.Length < 31 || !head.StartsWith("PK\x03\x04"u8)) return false;
        int nameLength = head[26] | head[27] << 8;
        var visible = head[30..Math.Min(head.Length, 30 + nameLength)];
        // torch.save writes PREFIX/data.pkl first: the visible part of the first name holds the prefix's slash, or is
        // cut short by the 64-byte window before reaching it.
        return visible.IndexOf((byte)'/') > 0 || (30 + nameLength > head.Length && visible.IndexOf((byte)'/') < 0);
    }

    /// <inheritdoc/>
    public ICheckpointReader Open(string path)
    {
        var head = new byte[LegacyMagic.Length];
        try
        {
            using var fs = File.OpenRead(path);
            head = head[..fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read ({e.Message})");
        }
        if (head.AsSpan().StartsWith(LegacyMagic))
            throw new CompressException(ErrorKind.InvalidInput,
                $"{path}: a PyTorch checkpoint in the legacy pre-1.6 format, which is not supported: re-save it with torch.save from PyTorch 1.6 or later, or convert it to safetensors");
        return PyTorchZipReader.Open(path);
    }
}
