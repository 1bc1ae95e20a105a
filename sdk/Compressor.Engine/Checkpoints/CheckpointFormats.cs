using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;

namespace Compressor.Engine.Checkpoints;

/// <summary>The checkpoint formats this tool reads (a fixed list), tried in order on the first bytes of a file, then
/// TorchSharp's format, which has no magic number and so is tried after every other one.</summary>
public static class CheckpointFormats
{
    /// <summary>Every format, in the order they are tried.</summary>
    public static IReadOnlyList<ICheckpointFormat> All { get; } =
        [new SafetensorsFormat(), new PyTorchZipFormat(), new ShardedCheckpointFormat(Open), new OnnxFormat(), new TorchSharpFormat()];

    /// <summary>Opens <paramref name="path"/> with the format its content matches.</summary>
    /// <exception cref="CompressException">Missing, unreadable or unrecognised file, or a malformed one.</exception>
    public static ICheckpointReader Open(string path) =>
        Detect(path)?.Open(path) ?? throw new CompressException(ErrorKind.InvalidInput,
            $"{path}: unrecognised checkpoint format (this version reads {string.Join(", ", All.Select(f => f.Name))})");

    /// <summary>The format whose signature the first bytes of <paramref name="path"/> match (nothing is parsed past
    /// them), or null when none does.</summary>
    /// <exception cref="CompressException">Missing or unreadable file.</exception>
    public static ICheckpointFormat? Detect(string path)
    {
        // A FIFO or a device is refused before it is opened (opening a FIFO waits for a writer; a device never ends).
        IO.InputFiles.RequireRegular(path);
        var head = new byte[64];
        long length;
        try
        {
            using var fs = File.OpenRead(path);
            length = fs.Length;
            int read = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            Array.Resize(ref head, read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read ({e.Message})");
        }
        foreach (var format in All)
            if (format.Sniff(head, length)) return format;
        return null;
    }
}
