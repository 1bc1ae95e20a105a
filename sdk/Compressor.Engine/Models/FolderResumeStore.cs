using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Storage;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Models;

/// <summary>An <see cref="IResumeStore"/> in a folder. Entry <c>KEY</c> is three files: <c>KEY.safetensors</c> (its
/// tensors), <c>KEY.optimizer</c> (an optimizer's state, when saved with one) and <c>KEY.json</c> (the plugin's text,
/// and for a compressed layer its kind, config version and config). Each file is written atomically (temporary file,
/// then rename), the JSON last and the previous JSON removed first, so that an entry read back is always whole: after
/// a crash the entry is either the previous one or absent. A section is a subfolder holding a <c>.fingerprint</c>
/// file; opening it with another fingerprint deletes what it holds first. Keys and section names are file-name-safe
/// words: letters, digits, '.', '_' and '-', not starting with '.'.</summary>
public sealed partial class FolderResumeStore : IResumeStore
{
    private const string FingerprintFile = ".fingerprint";
    private const string JsonSuffix = ".json", TensorsSuffix = ".safetensors", OptimizerSuffix = ".optimizer";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeName();

    /// <summary>A store in <paramref name="directory"/> (created when missing) whose layers are rebuilt with
    /// <paramref name="kinds"/>.</summary>
    public FolderResumeStore(string directory, LayerKindSet kinds)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        Directory = Path.GetFullPath(directory);
        Kinds = kinds;
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>The kinds that rebuild saved layers.</summary>
    public LayerKindSet Kinds { get; }

    /// <inheritdoc/>
    public IResumeStore Section(string name, string fingerprint)
    {
        Check(name, nameof(name));
        ArgumentNullException.ThrowIfNull(fingerprint);
        string dir = Path.Combine(Directory, name);
        string file = Path.Combine(dir, FingerprintFile);
        bool same = File.Exists(file) && File.ReadAllText(file) == fingerprint;
        if (!same)
        {
            if (System.IO.Directory.Exists(dir))
            {
                foreach (var f in System.IO.Directory.EnumerateFiles(dir)) File.Delete(f);
                foreach (var d in System.IO.Directory.EnumerateDirectories(dir)) System.IO.Directory.Delete(d, recursive: true);
            }
            System.IO.Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(file, fingerprint);
        }
        return new FolderResumeStore(dir, Kinds);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A key that is not file-name safe, or an optimizer that is not TorchSharp's.</exception>
    public void Save(string key, string state, IEnumerable<(string Name, Tensor Tensor)> tensors, optim.Optimizer? optimizer = null)
    {
        Check(key, nameof(key));
        ArgumentNullException.ThrowIfNull(state);
        var helper = optimizer is null ? null
            : optimizer as OptimizerHelper ?? throw new ArgumentException($"optimizer {optimizer.GetType().Name} cannot save its state", nameof(optimizer));
        DeleteIfExists(PathOf(key, JsonSuffix));
        WriteTensors(key, tensors);
        if (helper is not null) WriteOptimizer(key, helper);
        else DeleteIfExists(PathOf(key, OptimizerSuffix));
        WriteJson(key, new JsonObject { ["state"] = state, ["optimizer"] = helper is not null });
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A key that is not file-name safe, or an optimizer that is not TorchSharp's.</exception>
    /// <exception cref="CompressException">The entry's JSON or tensors are malformed (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public ResumeEntry? Load(string key, optim.Optimizer? optimizer = null)
    {
        Check(key, nameof(key));
        var helper = optimizer is null ? null
            : optimizer as OptimizerHelper ?? throw new ArgumentException($"optimizer {optimizer.GetType().Name} cannot load a state", nameof(optimizer));
        var json = ReadJson(key);
        if (json is null || !File.Exists(PathOf(key, TensorsSuffix))) return null;
        bool hasOptimizer = json["optimizer"] is JsonValue v && v.TryGetValue<bool>(out bool b) && b;
        // An entry saved without an optimizer's state cannot resume a step that needs one.
        if (helper is not null && (!hasOptimizer || !File.Exists(PathOf(key, OptimizerSuffix)))) return null;
        var tensors = ReadTensors(key);
        try
        {
            helper?.load_state_dict(PathOf(key, OptimizerSuffix));
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return new ResumeEntry(State(json, key), tensors);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A key that is not file-name safe, or a layer that is not a module.</exception>
    /// <exception cref="CompressException">A layer of a kind this store's kinds do not know.</exception>
    public void SaveLayer(string key, string state, ICompressedLayer layer)
    {
        Check(key, nameof(key));
        ArgumentNullException.ThrowIfNull(state);
        var module = layer as nn.Module ?? throw new ArgumentException($"compressed layer {layer.GetType().Name} is not a module", nameof(layer));
        var entry = new JsonObject
        {
            ["kind"] = layer.Kind,
            ["configVersion"] = Kinds.Get(layer.Kind).ConfigVersion,
            ["config"] = LayerConfigJson.Write(layer),
        };
        DeleteIfExists(PathOf(key, JsonSuffix));
        DeleteIfExists(PathOf(key, OptimizerSuffix));
        WriteTensors(key, module.state_dict().Select(kv => (kv.Key, kv.Value)));
        WriteJson(key, new JsonObject { ["state"] = state, ["optimizer"] = false, ["layer"] = entry });
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A key that is not file-name safe.</exception>
    /// <exception cref="CompressException">The entry is malformed, of an unknown kind, or its tensors do not fit the
    /// rebuilt layer (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public (nn.Module Layer, string State)? LoadLayer(string key)
    {
        Check(key, nameof(key));
        var json = ReadJson(key);
        string tensorsPath = PathOf(key, TensorsSuffix);
        if (json is null || !File.Exists(tensorsPath)) return null;
        if (json["layer"] is not JsonObject entry
            || entry["kind"] is not JsonValue k || !k.TryGetValue<string>(out var kind)
            || entry["configVersion"] is not JsonValue v || !v.TryGetValue<int>(out int version)
            || entry["config"] is not JsonObject config)
            throw Malformed(key, "no compressed layer (kind, configVersion, config)");
        var layer = LayerConfigJson.Create(Kinds, kind, version, config, key);
        try
        {
            using var reader = SafetensorsReader.Open(tensorsPath);
            ModuleTensors.Load(layer, reader, strict: true);
            return (layer, State(json, key));
        }
        catch
        {
            layer.Dispose();
            throw;
        }
    }

    private string PathOf(string key, string suffix) => Path.Combine(Directory, key + suffix);

    private static void Check(string name, string parameter)
    {
        if (name is null || !SafeName().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a file-name-safe word (letters, digits, '.', '_', '-'; not starting with '.')", parameter);
    }

    private void WriteTensors(string key, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(PathOf(key, TensorsSuffix), tensors.Select(t => (t.Name, t.Tensor.detach())).ToList());
    }

    private void WriteOptimizer(string key, OptimizerHelper optimizer)
    {
        string target = PathOf(key, OptimizerSuffix);
        string tmp = Path.Combine(Directory, $"{AtomicFile.TempPrefix}{key}{OptimizerSuffix}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            optimizer.save_state_dict(tmp);
            File.Move(tmp, target, overwrite: true);
        }
        catch
        {
            DeleteIfExists(tmp);
            throw;
        }
    }

    private void WriteJson(string key, JsonObject json) => AtomicFile.WriteAllText(PathOf(key, JsonSuffix), json.ToJsonString());

    private JsonObject? ReadJson(string key)
    {
        string path = PathOf(key, JsonSuffix);
        if (!File.Exists(path)) return null;
        try
        {
            return StrictJson.Node(File.ReadAllText(path)) as JsonObject ?? throw Malformed(key, "not a JSON object");
        }
        catch (JsonException e)
        {
            throw Malformed(key, e.Message.Split('\n')[0].Trim());
        }
    }

    private Dictionary<string, Tensor> ReadTensors(string key)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var reader = SafetensorsReader.Open(PathOf(key, TensorsSuffix));
            foreach (var entry in reader.Tensors)
                tensors[entry.Name] = reader.Read(entry.Name).DetachFromDisposeScope();
            return tensors;
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    private string State(JsonObject json, string key) =>
        json["state"] is JsonValue s && s.TryGetValue<string>(out var state) ? state : throw Malformed(key, "no state text");

    private CompressException Malformed(string key, string why) =>
        new(ErrorKind.InvalidInput, $"resume entry '{key}' in {Directory} is malformed: {why}");

    private static void DeleteIfExists(string path)
    {
        if (File.Exists(path)) File.Delete(path);
    }
}
