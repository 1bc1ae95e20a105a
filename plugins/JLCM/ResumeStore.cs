using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Compression;
using Compressor.Sdk.IO;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Plugins.JLCM;

/// <summary>Per-layer state in the step's work folder, so that an interrupted run resumes after the last finished
/// layer: <c>run.json</c> (the options and layer list it belongs to; a different run starts afresh),
/// <c>layer-NNNN.json</c> (layer name, compressed kind and config, the consumer a permutation was folded into and the
/// permutation, the layer's numbers) and <c>layer-NNNN.safetensors</c> (the compressed layer's tensors). Files are
/// written atomically, the JSON last, so a layer counts as done only when both are complete.</summary>
public sealed class ResumeStore
{
    private readonly string _dir;

    /// <summary>A finished layer as stored.</summary>
    /// <param name="Name">Layer name.</param>
    /// <param name="Kind">Compressed kind.</param>
    /// <param name="Config">Its config.</param>
    /// <param name="Consumer">The layer the permutation was folded into, or null.</param>
    /// <param name="Order">The folded permutation (new row i = old row Order[i]), or null.</param>
    /// <param name="Stats">The layer's numbers (losses, moves) for the report.</param>
    public sealed record Entry(string Name, string Kind, JObject Config, string? Consumer, long[]? Order, JObject Stats);

    /// <summary>Opens the folder for a run identified by <paramref name="fingerprint"/>; stale state is removed.</summary>
    public ResumeStore(string directory, string fingerprint)
    {
        _dir = directory;
        Directory.CreateDirectory(_dir);
        string run = Path.Combine(_dir, "run.json");
        if (!File.Exists(run) || File.ReadAllText(run) != fingerprint)
        {
            foreach (var f in Directory.EnumerateFiles(_dir, "layer-*")) File.Delete(f);
            AtomicFile.WriteAllText(run, fingerprint);
        }
    }

    private string JsonPath(int i) => Path.Combine(_dir, $"layer-{i:D4}.json");

    private string TensorPath(int i) => Path.Combine(_dir, $"layer-{i:D4}.safetensors");

    /// <summary>The stored entry of layer <paramref name="index"/>, or null.</summary>
    public Entry? Find(int index, string name)
    {
        if (!File.Exists(JsonPath(index)) || !File.Exists(TensorPath(index))) return null;
        var o = JObject.Parse(File.ReadAllText(JsonPath(index)));
        if ((string?)o["name"] != name) return null;
        return new Entry(name, (string)o["kind"]!, (JObject)o["config"]!, (string?)o["consumer"], o["order"] is JArray a ? a.Select(x => (long)x).ToArray() : null,
            (JObject)o["stats"]!);
    }

    /// <summary>Rebuilds the stored compressed layer of <paramref name="index"/>.</summary>
    public torch.nn.Module Load(int index, Entry entry)
    {
        var layer = CompressedLayerRegistry.Create(entry.Kind, entry.Config);
        using var reader = SafetensorsReader.Open(TensorPath(index));
        ModelIO.LoadTensors(layer, reader, strict: true);
        return layer;
    }

    /// <summary>Stores layer <paramref name="index"/>.</summary>
    public void Save(int index, Entry entry, torch.nn.Module layer)
    {
        SafetensorsWriter.Write(TensorPath(index), layer.state_dict().Select(kv => (kv.Key, kv.Value)));
        var o = new JObject
        {
            ["name"] = entry.Name, ["kind"] = entry.Kind, ["config"] = entry.Config, ["consumer"] = entry.Consumer,
            ["order"] = entry.Order is null ? null : new JArray(entry.Order), ["stats"] = entry.Stats,
        };
        AtomicFile.WriteAllText(JsonPath(index), o.ToString(Formatting.None));
    }
}
