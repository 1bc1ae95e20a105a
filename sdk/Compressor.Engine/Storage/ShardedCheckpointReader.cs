using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>A Hugging Face sharded checkpoint read as one: the index's <c>weight_map</c> (tensor name → shard file)
/// in the index's order, each tensor read from its shard (opened by the function given: any format but another index).
/// Shard names must be plain relative paths inside the index's folder (no rooted paths, <c>..</c> segments or
/// backslashes); the shards themselves may be symbolic links, as in the Hugging Face cache. Every mapped tensor is
/// checked to exist in its shard when the index is opened. A shard name is resolved with every link followed and must end
/// in a regular file inside the index's folder (or inside the folder of the index's own link target). Metadata: the index's <c>metadata</c> values as
/// <c>index.KEY</c>, <c>index.shards</c>, and the first shard's own metadata.</summary>
public sealed class ShardedCheckpointReader : ICheckpointReader
{
    /// <summary>The largest index file read.</summary>
    public const long MaxIndexBytes = 64L << 20;

    private readonly Dictionary<string, ICheckpointReader> _shardOf;
    private readonly List<ICheckpointReader> _shards;

    private ShardedCheckpointReader(string path, string format, List<ICheckpointReader> shards, Dictionary<string, ICheckpointReader> shardOf,
        List<CheckpointEntry> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        Format = format;
        _shards = shards;
        _shardOf = shardOf;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <summary><c>sharded-</c> followed by the shards' format, e.g. <c>sharded-safetensors</c>.</summary>
    public string Format { get; }

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The shard files, in order of first use.</summary>
    public IReadOnlyList<string> ShardPaths => _shards.Select(s => s.Path).ToList();

    /// <summary>Opens the index at <paramref name="path"/> and every shard it names, each with <paramref name="openShard"/>.</summary>
    /// <exception cref="CompressException">Malformed index, a shard outside the folder, missing or malformed shards, or a
    /// mapped tensor absent from its shard, in one line.</exception>
    public static ShardedCheckpointReader Open(string path, Func<string, ICheckpointReader> openShard)
    {
        CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{path}: not a valid sharded checkpoint index: {what}");
        JObject index;
        try
        {
            index = IO.StrictJson.Object(IO.InputFiles.ReadAllText(path, MaxIndexBytes), maxDepth: 16);
        }
        catch (Exception e) when (e is JsonException or InvalidCastException)
        {
            throw Bad($"malformed JSON ({e.Message.Split('\n')[0].Trim()})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read ({e.Message})");
        }
        if (index["weight_map"] is not JObject map) throw Bad("a JSON object without a \"weight_map\" object (tensor name → shard file)");
        string folder = System.IO.Path.GetFullPath(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var byFile = new Dictionary<string, ICheckpointReader>(StringComparer.Ordinal);
        var shards = new List<ICheckpointReader>();
        try
        {
            var shardOf = new Dictionary<string, ICheckpointReader>(StringComparer.Ordinal);
            var tensors = new List<CheckpointEntry>();
            var entries = new Dictionary<ICheckpointReader, Dictionary<string, CheckpointEntry>>(ReferenceEqualityComparer.Instance);
            string? innerFormat = null;
            foreach (var prop in map.Properties())
            {
                if (prop.Value.Type != JTokenType.String) throw Bad($"weight_map value of '{prop.Name}' is not a file name");
                string file = (string)prop.Value!;
                if (!byFile.TryGetValue(file, out var shard))
                {
                    if (!IsPlainRelative(file)) throw Bad($"shard '{file}' is not a file inside the index's folder (path traversal refused)");
                    // Links are followed and must end inside the index's folder (or the folder its own link points
                    // into, as in the Hugging Face cache, where snapshots link into one blobs folder).
                    string full = IO.InputFiles.ResolveInside(path, file, $"{path}: shard", ErrorKind.InvalidInput);
                    if (LooksLikeIndex(full)) throw Bad($"shard '{file}' is itself an index");
                    shard = openShard(full);
                    shards.Add(shard);
                    byFile[file] = shard;
                    entries[shard] = shard.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
                    if (innerFormat is not null && innerFormat != shard.Format) throw Bad($"shards of different formats ({innerFormat}, {shard.Format})");
                    innerFormat = shard.Format;
                }
                if (!shard.Contains(prop.Name)) throw Bad($"weight_map puts '{prop.Name}' in shard '{file}', which has no such tensor");
                shardOf[prop.Name] = shard;
                tensors.Add(entries[shard][prop.Name]);
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (shards.Count > 0) foreach (var (k, v) in shards[0].Metadata) metadata[k] = v;
            if (index["metadata"] is JObject meta)
                foreach (var p in meta.Properties())
                    metadata["index." + p.Name] = p.Value.Type == JTokenType.String ? (string)p.Value! : p.Value.ToString(Formatting.None);
            metadata["index.shards"] = shards.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new ShardedCheckpointReader(path, "sharded-" + (innerFormat ?? "empty"), shards, shardOf, tensors, metadata);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _shardOf.ContainsKey(name);

    /// <inheritdoc/>
    public Tensor Read(string name) => _shardOf.TryGetValue(name, out var shard)
        ? shard.Read(name)
        : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }

    private static bool LooksLikeIndex(string file)
    {
        var head = new byte[64];
        try
        {
            using var fs = File.OpenRead(file);
            int n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return ShardedCheckpointFormat.IsIndex(head.AsSpan(0, n), fs.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{file}: cannot read ({e.Message})");
        }
    }

    private static bool IsPlainRelative(string file) =>
        file.Length > 0 && !System.IO.Path.IsPathRooted(file) && !file.Contains('\\') && !file.Contains(':')
        && file.Split('/').All(s => s.Length > 0 && s != "." && s != "..");
}
