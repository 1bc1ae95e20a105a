namespace Compressor.Engine.Storage;

/// <summary>TorchSharp's own format, what <c>module.save(path)</c> writes (and <c>exportsd.py</c> produces from
/// PyTorch), read by <see cref="TorchSharpReader"/>. It has no magic number, so <c>Compressor.Engine.Checkpoints.CheckpointFormats</c> tries it after every other format, and it is recognised by
/// a consistent start: a LEB128 tensor count, then a length-prefixed UTF-8 name without control characters, a known
/// element type and a rank of at most 16.</summary>
public sealed class TorchSharpFormat : ICheckpointFormat
{
    /// <summary>The format's name.</summary>
    public const string FormatName = "torchsharp";

    /// <inheritdoc/>
    public string Name => FormatName;

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length)
    {
        int at = 0;
        if (!TorchSharpReader.TryLeb128(head, ref at, out long count) || count < 0) return false;
        if (count == 0) return length == at;
        if (count > length / 4) return false;
        if (!TorchSharpReader.TryLeb128(head, ref at, out long nameLength) || nameLength is <= 0 or > TorchSharpReader.MaxNameBytes) return false;
        if (at + nameLength + 2 > length) return false;
        int visible = (int)Math.Min(nameLength, head.Length - at);
        foreach (var b in head.Slice(at, visible))
            if (b < 0x20 || b == 0x7f) return false;
        if (visible < nameLength) return true;
        at += visible;
        if (at >= head.Length) return true;
        if (!TorchSharpReader.TryLeb128(head, ref at, out long type)) return at >= head.Length;
        if (!TorchSharpReader.TryScalarType(type, out _)) return false;
        if (at >= head.Length) return true;
        return TorchSharpReader.TryLeb128(head, ref at, out long rank) ? rank <= 16 : at >= head.Length;
    }

    /// <inheritdoc/>
    public ICheckpointReader Open(string path) => TorchSharpReader.Open(path);
}
