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

/// <summary>An <see cref="IResumeStore"/> in a folder. Entry <c>KEY</c> is a state file <c>KEY.json</c> — the plugin's
/// text, for a compressed layer its kind, config version and config, and the names and sizes of its data files — and
/// data files named for that save alone: <c>KEY.GEN.safetensors</c> (its tensors) and <c>KEY.GEN.optimizer</c> (an
/// optimizer's state, when saved with one), where GEN is new at every save. A save writes the new data files first,
/// then replaces the state file atomically (temporary file, flush, rename, folder flushed) — <b>the single commit
/// point</b> — and only then removes the previous save's data files. A crash at any moment therefore leaves the state
/// file naming either the previous save's files, all still present, or the new one's, all complete: an entry read back
/// is never a mix of two saves, and an interrupted save never loses the previous one. Data files no state file names
/// (left by a crash before the commit) are removed at the next save. A section is a subfolder holding a
/// <c>.fingerprint</c> file; opening it with another fingerprint deletes what it holds first. Keys and section names
/// are file-name-safe words: letters, digits, '.', '_' and '-', not starting with '.'. The folder is created at the
/// first save, so a step that saves nothing leaves nothing behind. Crash points (<see cref="CrashPoints"/>):
/// <c>resume.after-tensors</c>, <c>resume.after-optimizer</c>, <c>resume.after-commit</c>.</summary>
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
        try
        {
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
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write resume state in {dir}: {e.Message}", e);
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
        Commit(key, new JsonObject { ["state"] = state, ["optimizer"] = helper is not null }, tensors, helper);
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
        if (json is null) return null;
        var files = DataFiles(key, json);
        if (files.Tensors is null) return null;
        bool hasOptimizer = json["optimizer"] is JsonValue v && v.TryGetValue<bool>(out bool b) && b;
        // An entry saved without an optimizer's state cannot resume a step that needs one.
        if (helper is not null && (!hasOptimizer || files.Optimizer is null)) return null;
        var tensors = ReadTensors(files.Tensors);
        try
        {
            if (helper is not null) helper.load_state_dict(files.Optimizer!);
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
        Commit(key, new JsonObject { ["state"] = state, ["optimizer"] = false, ["layer"] = entry },
            module.state_dict().Select(kv => (kv.Key, kv.Value)), optimizer: null);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A key that is not file-name safe.</exception>
    /// <exception cref="CompressException">The entry is malformed, of an unknown kind, or its tensors do not fit the
    /// rebuilt layer (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public (nn.Module Layer, string State)? LoadLayer(string key)
    {
        Check(key, nameof(key));
        var json = ReadJson(key);
        if (json is null) return null;
        string? tensorsPath = DataFiles(key, json).Tensors;
        if (tensorsPath is null) return null;
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

    /// <summary>Writes a save's data files under fresh names, then the state file (the commit), then removes every
    /// data file of <paramref name="key"/> the new state file does not name.</summary>
    private void Commit(string key, JsonObject json, IEnumerable<(string Name, Tensor Tensor)> tensors, OptimizerHelper? optimizer)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string generation = $"{DateTime.UtcNow:yyyyMMddHHmmssfff}{Guid.NewGuid():N}"[..25];
        string tensorsFile = $"{key}.{generation}{TensorsSuffix}", optimizerFile = $"{key}.{generation}{OptimizerSuffix}";
        var written = new List<string>();
        try
        {
            using (var scope = NewDisposeScope())
                SafetensorsWriter.Write(Path.Combine(Directory, tensorsFile), tensors.Select(t => (t.Name, t.Tensor.detach())).ToList());
            written.Add(tensorsFile);
            CrashPoints.Reach("resume.after-tensors");
            var files = new JsonObject { ["tensors"] = tensorsFile, ["tensorsBytes"] = new FileInfo(Path.Combine(Directory, tensorsFile)).Length };
            if (optimizer is not null)
            {
                WriteOptimizer(optimizerFile, optimizer);
                written.Add(optimizerFile);
                files["optimizer"] = optimizerFile;
                files["optimizerBytes"] = new FileInfo(Path.Combine(Directory, optimizerFile)).Length;
                CrashPoints.Reach("resume.after-optimizer");
            }
            json["files"] = files;
            AtomicFile.WriteAllText(PathOf(key, JsonSuffix), json.ToJsonString());   // the commit point
        }
        catch (Exception e) when (e is not SimulatedCrash)
        {
            foreach (var f in written) DeleteIfExists(Path.Combine(Directory, f));
            // A full disk or a read-only work folder is an output failure of the run, not the plugin's.
            if (e is IOException or UnauthorizedAccessException)
                throw new CompressException(ErrorKind.OutputFailed, $"cannot write resume state in {Directory}: {e.Message}", e);
            throw;
        }
        CrashPoints.Reach("resume.after-commit");
        RemoveUnnamedDataFiles(key, [tensorsFile, optimizerFile]);
    }

    /// <summary>Deletes the data files of <paramref name="key"/> other than <paramref name="keep"/>: those of other saves
    /// (<c>KEY.GEN.safetensors</c>, <c>KEY.GEN.optimizer</c>) and the fixed names of older stores. Another key's files
    /// never match: a generation is exactly 25 hexadecimal digits.</summary>
    private void RemoveUnnamedDataFiles(string key, IReadOnlyCollection<string> keep)
    {
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, key + ".*"))
        {
            string name = Path.GetFileName(f);
            if (keep.Contains(name)) continue;
            string rest = name[(key.Length + 1)..];
            string? stem = rest.EndsWith(TensorsSuffix, StringComparison.Ordinal) ? rest[..^TensorsSuffix.Length]
                : rest.EndsWith(OptimizerSuffix, StringComparison.Ordinal) ? rest[..^OptimizerSuffix.Length] : null;
            if (stem is { Length: 25 } && stem.All(char.IsAsciiHexDigit)) DeleteIfExists(f);
        }
        DeleteIfExists(PathOf(key, TensorsSuffix));
        DeleteIfExists(PathOf(key, OptimizerSuffix));
    }

    /// <summary>The data files <paramref name="json"/> names (checked to exist with the sizes recorded), or, for a state
    /// file written before data files had per-save names, the fixed names.</summary>
    private (string? Tensors, string? Optimizer) DataFiles(string key, JsonObject json)
    {
        if (json["files"] is not JsonObject files)
            return (File.Exists(PathOf(key, TensorsSuffix)) ? PathOf(key, TensorsSuffix) : null,
                File.Exists(PathOf(key, OptimizerSuffix)) ? PathOf(key, OptimizerSuffix) : null);
        string? Named(string name, string bytesName)
        {
            if (files[name] is null) return null;
            if (files[name] is not JsonValue v || !v.TryGetValue<string>(out var file) || !SafeName().IsMatch(file) || !file.StartsWith(key + ".", StringComparison.Ordinal))
                throw Malformed(key, $"\"files.{name}\" is not a data file of this entry");
            string path = Path.Combine(Directory, file);
            long expected = files[bytesName] is JsonValue b && b.TryGetValue<long>(out long n) ? n : -1;
            if (!File.Exists(path) || new FileInfo(path).Length != expected)
                throw Malformed(key, $"its data file {file} is missing or not the size its state file records (the work folder was changed by hand?)");
            return path;
        }
        return (Named("tensors", "tensorsBytes"), Named("optimizer", "optimizerBytes"));
    }

    private void WriteOptimizer(string file, OptimizerHelper optimizer)
    {
        string target = Path.Combine(Directory, file);
        string tmp = Path.Combine(Directory, $"{AtomicFile.TempPrefix}{file}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            optimizer.save_state_dict(tmp);
            using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true);
            File.Move(tmp, target, overwrite: true);
        }
        catch
        {
            DeleteIfExists(tmp);
            throw;
        }
    }

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

    private static Dictionary<string, Tensor> ReadTensors(string path)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var reader = SafetensorsReader.Open(path);
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
