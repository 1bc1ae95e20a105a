namespace Compressor.Engine.Storage;

/// <summary>The safetensors format: an 8-byte little-endian header length, a JSON header, raw data.</summary>
public sealed class SafetensorsFormat : ICheckpointFormat
{
    /// <inheritdoc/>
    public string Name => "safetensors";

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length) => SafetensorsReader.Sniff(head, length);

    /// <inheritdoc/>
    public ICheckpointReader Open(string path) => SafetensorsReader.Open(path);
}
