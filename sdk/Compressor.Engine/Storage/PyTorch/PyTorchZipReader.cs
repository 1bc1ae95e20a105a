using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>Reads <c>torch.save</c> zip checkpoints (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>) without running anything:
/// the zip is validated (<see cref="TorchZipArchive"/>), <c>data.pkl</c> is read by a restricted unpickler that only
/// rebuilds tensors, storages and plain containers and refuses every other global, and each tensor is checked against
/// its storage entry before any data is read. Tensor data is then read tensor by tensor from the storage entries;
/// views with strides or offsets are materialised as contiguous tensors. Nested checkpoints
/// (<c>{"state_dict": …}</c>, <c>{"model": …}</c>) are unwrapped or flattened to dotted names (see
/// <c>StateDictFlattener</c>).</summary>
public sealed partial class PyTorchZipReader : ICheckpointReader
{
    [GeneratedRegex("^[A-Za-z0-9_]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex StorageKey();

    private readonly TorchZipArchive _archive;
    private readonly Dictionary<string, TensorRef> _byName;
    private readonly bool _bigEndian;

    private PyTorchZipReader(TorchZipArchive archive, List<(string Name, TensorRef Tensor)> tensors, Dictionary<string, string> metadata, bool bigEndian)
    {
        _archive = archive;
        _bigEndian = bigEndian;
        _byName = tensors.ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
        Tensors = tensors.Select(t => new CheckpointEntry(t.Name, t.Tensor.Storage.StorageType, t.Tensor.Storage.ScalarType, t.Tensor.Shape,
            t.Tensor.ElementCount * t.Tensor.Storage.ElementSize)).ToList();
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path => _archive.Path;

    /// <inheritdoc/>
    public string Format => PyTorchZipFormat.FormatName;

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <summary><c>pytorch.prefix</c> (the archive's record folder), <c>pytorch.version</c>, <c>pytorch.byteorder</c>,
    /// and for wrapped checkpoints <c>pytorch.root</c> plus the wrapper's plain values.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Missing, truncated, malformed or unsafe file, in one line.</exception>
    public static PyTorchZipReader Open(string path)
    {
        var archive = TorchZipArchive.Open(path);
        try
        {
            CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{path}: not a valid PyTorch checkpoint: {what}");
            string? order = archive.ReadAll("byteorder", 16) is { } bo ? Encoding.ASCII.GetString(bo).Trim() : null;
            if (order is not (null or "little" or "big")) throw Bad($"byteorder record '{RestrictedUnpickler.Printable(order)}' is neither 'little' nor 'big'");
            string? version = archive.ReadAll("version", 64) is { } v ? Encoding.ASCII.GetString(v).Trim()
                : archive.ReadAll(".data/version", 64) is { } v2 ? Encoding.ASCII.GetString(v2).Trim() : null;
            var pickle = archive.ReadAll("data.pkl", TorchZipArchive.MaxPickleBytes)!;
            var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
            string source = $"{path}: {archive.Prefix}/data.pkl";

            StorageRef Resolve(string storageType, string key, string location, long elementCount)
            {
                if (!StorageKey().IsMatch(key))
                    throw new CompressException(ErrorKind.InvalidInput, $"{source}: unsafe pickle refused: persistent id names storage '{RestrictedUnpickler.Printable(key)}', which is not a plain record name of the archive");
                var (type, size) = RestrictedUnpickler.StorageTypes[storageType];
                if (storages.TryGetValue(key, out var known))
                {
                    if (known.StorageType != storageType || known.ElementCount != elementCount)
                        throw new CompressException(ErrorKind.InvalidInput, $"{source}: storage '{key}' is declared twice with different types or sizes");
                    return known;
                }
                long? entryBytes = archive.SizeOf("data/" + key);
                if (entryBytes is null)
                    throw new CompressException(ErrorKind.InvalidInput, $"{source}: unsafe pickle refused: persistent id names storage '{key}', but the archive has no record {archive.Prefix}/data/{key}");
                long needed;
                try { needed = checked(elementCount * size); }
                catch (OverflowException) { throw new CompressException(ErrorKind.InvalidInput, $"{source}: storage '{key}' declares {elementCount} elements, a size that overflows"); }
                if (needed > entryBytes)
                    throw new CompressException(ErrorKind.InvalidInput, $"{source}: storage '{key}' declares {elementCount} × {size} = {needed} bytes but its record has {entryBytes}");
                return storages[key] = new StorageRef(storageType, type, size, key, location, elementCount);
            }

            var root = new RestrictedUnpickler(pickle, source, Resolve).Load();
            var (tensors, metadata) = StateDictFlattener.Flatten(root, path);
            metadata["pytorch.prefix"] = archive.Prefix;
            if (version is not null) metadata["pytorch.version"] = RestrictedUnpickler.Printable(version);
            metadata["pytorch.byteorder"] = order ?? "little";
            return new PyTorchZipReader(archive, tensors, metadata, order == "big");
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public Tensor Read(string name)
    {
        var t = _byName.TryGetValue(name, out var r) ? r : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");
        var s = t.Storage;
        if (t.ElementCount == 0) return empty(t.Shape, s.ScalarType);
        long extent = t.Extent;
        long bytes = extent * s.ElementSize;
        if (bytes > int.MaxValue) throw new CompressException(ErrorKind.InvalidInput, $"{Path}: tensor '{name}' spans more than 2 GiB of its storage, which this reader does not support");
        var flat = empty([extent], s.ScalarType);
        try
        {
            var span = flat.bytes;
            _archive.ReadRange("data/" + s.Key, t.Offset * s.ElementSize, span);
            if (_bigEndian && s.ElementSize > 1)
                for (int i = 0; i < span.Length; i += s.ElementSize) span.Slice(i, s.ElementSize).Reverse();
            flat.bytes = span;
            Tensor result;
            if (t.IsContiguous) result = flat.reshape(t.Shape);
            else
            {
                using var view = flat.as_strided(t.Shape, t.Stride, 0);
                result = view.contiguous();
            }
            flat.Dispose();
            return result;
        }
        catch
        {
            flat.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _archive.Dispose();
}
