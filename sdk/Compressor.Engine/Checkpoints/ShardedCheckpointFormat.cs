namespace Compressor.Sdk.Checkpoints;

/// <summary>Hugging Face sharded checkpoints: an index JSON (<c>model.safetensors.index.json</c>,
/// <c>pytorch_model.bin.index.json</c>) whose <c>weight_map</c> names the shard file of each tensor, opened as one
/// checkpoint by <see cref="ShardedCheckpointReader"/>. Recognised by content: a file that starts with a JSON object.</summary>
public sealed class ShardedCheckpointFormat : ICheckpointFormat
{
    /// <summary>The format's name.</summary>
    public const string FormatName = "sharded";

    /// <inheritdoc/>
    public string Name => FormatName;

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length)
    {
        if (length > ShardedCheckpointReader.MaxIndexBytes) return false;
        if (head.StartsWith("\xEF\xBB\xBF"u8)) head = head[3..];
        head = head.TrimStart(" \t\r\n"u8);
        return head.Length > 0 && head[0] == (byte)'{';
    }

    /// <inheritdoc/>
    public ICheckpointReader Open(string path) => ShardedCheckpointReader.Open(path);
}
