using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Compressor.Engine.Kinds;
using Compressor.Sdk.Layers;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Models;

/// <summary>The JSON manifest a compressed checkpoint carries in its safetensors metadata (key
/// <see cref="MetadataKey"/>): format version, architecture, the plugin steps that made it, and for every
/// compressed layer its kind, config version and config.
/// <para>Format 2 (written): <c>{"formatVersion": 2, "architecture": {"name", "config"} | null, "steps": [{"plugin",
/// "version", "options"}], "layers": {NAME: {"kind", "configVersion", "config"}}}</c>, each config in the file form of
/// <see cref="LayerConfigJson"/>. Format 1 (read) is the same without <c>configVersion</c>, which then is 1.</para></summary>
public sealed record CompressionManifest(
    int FormatVersion,
    ArchitectureSpec? Architecture,
    IReadOnlyList<AppliedStep> Steps,
    IReadOnlyDictionary<string, CompressedLayerEntry> Layers)
{
    /// <summary>The metadata key.</summary>
    public const string MetadataKey = "compress.manifest";

    /// <summary>The format version this engine writes (it reads every version up to it).</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>The manifest of <paramref name="model"/>: every <see cref="ICompressedLayer"/> in its tree, with the
    /// config version of its kind in <see cref="EngineModel.Kinds"/>.</summary>
    /// <exception cref="CompressException">A compressed layer of a kind the model's kinds do not know.</exception>
    public static CompressionManifest Of(EngineModel model)
    {
        var layers = new SortedDictionary<string, CompressedLayerEntry>(StringComparer.Ordinal);
        foreach (var (name, m) in model.NamedModules())
            if (m is ICompressedLayer c && name.Length > 0)
                layers[name] = new CompressedLayerEntry(c.Kind, model.Kinds.Get(c.Kind).ConfigVersion, LayerConfigJson.Write(c));
        return new CompressionManifest(CurrentFormatVersion, model.Spec, model.Steps, layers);
    }

    /// <summary>Compact JSON (a format-1 manifest is written without config versions).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("formatVersion", FormatVersion);
            w.WritePropertyName("architecture");
            if (Architecture is null) w.WriteNullValue();
            else w.WriteRawValue(new JObject { ["name"] = Architecture.Name, ["config"] = Architecture.Config }.ToString(Formatting.None));
            w.WritePropertyName("steps");
            w.WriteRawValue(new JArray(Steps.Select(s => new JObject { ["plugin"] = s.Plugin, ["version"] = s.Version, ["options"] = s.Options })).ToString(Formatting.None));
            w.WriteStartObject("layers");
            foreach (var (name, e) in Layers)
            {
                w.WriteStartObject(name);
                w.WriteString("kind", e.Kind);
                if (FormatVersion >= 2) w.WriteNumber("configVersion", e.ConfigVersion);
                w.WritePropertyName("config");
                e.Config.WriteTo(w);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses <see cref="ToJson"/>'s output, of this format or an older one.</summary>
    /// <exception cref="CompressException">Malformed manifest or a newer format version.</exception>
    public static CompressionManifest FromJson(string json)
    {
        try
        {
            JObject o = IO.StrictJson.Object(json);
            int version = o["formatVersion"] is JValue { Value: long fv } && fv is >= int.MinValue and <= int.MaxValue ? (int)fv : throw new FormatException("no integer formatVersion");
            if (version > CurrentFormatVersion)
                throw new CompressException(ErrorKind.InvalidInput, $"compressed checkpoint format {version} is newer than this tool's ({CurrentFormatVersion}); update compress");
            if (version < 1) throw new FormatException($"formatVersion {version}");
            ArchitectureSpec? arch = o["architecture"] is JObject a
                ? new ArchitectureSpec((string?)a["name"] ?? throw new FormatException("architecture without name"), a["config"] as JObject ?? new JObject())
                : null;
            var steps = (o["steps"] as JArray ?? []).Select(s => new AppliedStep(
                (string?)s["plugin"] ?? "?", (string?)s["version"] ?? "?", s["options"] as JObject ?? new JObject())).ToList();
            var layers = new Dictionary<string, CompressedLayerEntry>(StringComparer.Ordinal);
            // Layer configs are read with System.Text.Json, the form their kinds deserialize.
            if (IO.StrictJson.Node(json)?["layers"] is JsonObject l)
                foreach (var (name, node) in l)
                {
                    var entry = node as JsonObject ?? throw new FormatException($"layer '{name}' is not an object");
                    string kind = entry["kind"] is JsonValue k && k.TryGetValue<string>(out var id) ? id : throw new FormatException($"layer '{name}' has no kind");
                    int configVersion = 1;
                    if (version >= 2)
                        configVersion = entry["configVersion"] is JsonValue v && v.TryGetValue<int>(out int cv) && cv >= 1
                            ? cv : throw new FormatException($"layer '{name}' has no valid configVersion");
                    var config = entry["config"] is JsonObject c ? (JsonObject)c.DeepClone() : [];
                    layers[name] = new CompressedLayerEntry(kind, configVersion, config);
                }
            return new CompressionManifest(version, arch, steps, layers);
        }
        catch (Exception e) when (e is Newtonsoft.Json.JsonException or System.Text.Json.JsonException or FormatException or InvalidCastException
                                      or ArgumentException or NullReferenceException or InvalidOperationException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"malformed compression manifest: {e.Message.Split('\n')[0].Trim()}");
        }
    }
}
