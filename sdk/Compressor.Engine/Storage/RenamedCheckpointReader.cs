using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>A checkpoint seen under other tensor names (a foreign file's wrapper prefix removed or added so that its
/// names are the module's): every tensor renamed by a function, the data read from the inner reader. Two file tensors
/// that map to one name are an error.</summary>
public sealed class RenamedCheckpointReader : ICheckpointReader
{
    private readonly ICheckpointReader _inner;
    private readonly Dictionary<string, string> _original;

    /// <summary>Wraps <paramref name="inner"/> (which it disposes) with <paramref name="rename"/>.</summary>
    /// <exception cref="CompressException">Two tensors that get one name.</exception>
    public RenamedCheckpointReader(ICheckpointReader inner, Func<string, string> rename)
    {
        _inner = inner;
        _original = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<CheckpointEntry>(inner.Tensors.Count);
        foreach (var e in inner.Tensors)
        {
            string name = rename(e.Name);
            if (!_original.TryAdd(name, e.Name))
                throw new CompressException(ErrorKind.InvalidInput, $"{inner.Path}: tensors '{_original[name]}' and '{e.Name}' both stand for '{name}'");
            tensors.Add(e with { Name = name });
        }
        Tensors = tensors;
    }

    /// <inheritdoc/>
    public string Path => _inner.Path;

    /// <inheritdoc/>
    public string Format => _inner.Format;

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata => _inner.Metadata;

    /// <inheritdoc/>
    public bool Contains(string name) => _original.ContainsKey(name);

    /// <inheritdoc/>
    public Tensor Read(string name) => _original.TryGetValue(name, out var original)
        ? _inner.Read(original)
        : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public void Dispose() => _inner.Dispose();
}
