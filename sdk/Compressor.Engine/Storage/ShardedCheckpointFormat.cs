namespace Compressor.Engine.Storage;

/// <summary>Hugging Face sharded checkpoints: an index JSON (<c>model.safetensors.index.json</c>,
/// <c>pytorch_model.bin.index.json</c>) whose <c>weight_map</c> names the shard file of each tensor, opened as one
/// checkpoint by <see cref="ShardedCheckpointReader"/>. Recognised by content: a file that starts with a JSON object.
/// The shards are opened by the function given, which chooses their format by content.</summary>
/// <param name="openShard">Opens one shard file (any format but another index).</param>
public sealed class ShardedCheckpointFormat(Func<string, ICheckpointReader> openShard) : ICheckpointFormat
{
    /// <summary>The format's name.</summary>
    public const string FormatName = "sharded";

    /// <inheritdoc/>
    public string Name => FormatName;

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length) => IsIndex(head, length);

    /// <summary>Whether a file starting with <paramref name="head"/> of <paramref name="length"/> bytes looks like an
    /// index: at most <see cref="ShardedCheckpointReader.MaxIndexBytes"/>, starting with a JSON object.</summary>
    public static bool IsIndex(ReadOnlySpan<byte> head, long length)
    {
        if (length > ShardedCheckpointReader.MaxIndexBytes) return false;
        if (head.StartsWith("\xEF\xBB\xBF"u8)) head = head[3..];
        head = head.TrimStart(" \t\r\n"u8);
        return head.Length > 0 && head[0] == (byte)'{';
    }

    /// <inheritdoc/>
    public ICheckpointReader Open(string path) => ShardedCheckpointReader.Open(path, openShard);
}
