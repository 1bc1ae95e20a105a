using Compressor.Sdk.Architectures;
using Compressor.Sdk.Models;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Sdk.Compression;

/// <summary>The JSON manifest a compressed checkpoint carries in its safetensors metadata (key
/// <see cref="MetadataKey"/>): format version, architecture, the plugin steps that made it, and for every
/// compressed layer its kind and config.</summary>
public sealed record CompressionManifest(
    int FormatVersion,
    ArchitectureSpec? Architecture,
    IReadOnlyList<AppliedStep> Steps,
    IReadOnlyDictionary<string, CompressedLayerEntry> Layers)
{
    /// <summary>The metadata key.</summary>
    public const string MetadataKey = "compress.manifest";

    /// <summary>The format version this SDK writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The manifest of <paramref name="model"/>: every <see cref="ICompressedLayer"/> in its tree.</summary>
    public static CompressionManifest Of(CompressibleModel model)
    {
        var layers = new SortedDictionary<string, CompressedLayerEntry>(StringComparer.Ordinal);
        foreach (var (name, m) in model.NamedModules())
            if (m is ICompressedLayer c && name.Length > 0)
                layers[name] = new CompressedLayerEntry(c.Kind, c.Config);
        return new CompressionManifest(CurrentFormatVersion, model.Architecture, model.Steps, layers);
    }

    /// <summary>Compact JSON.</summary>
    public string ToJson()
    {
        var layers = new JObject();
        foreach (var (name, e) in Layers) layers[name] = new JObject { ["kind"] = e.Kind, ["config"] = e.Config };
        var o = new JObject
        {
            ["formatVersion"] = FormatVersion,
            ["architecture"] = Architecture is null ? null : new JObject { ["name"] = Architecture.Name, ["config"] = Architecture.Config },
            ["steps"] = new JArray(Steps.Select(s => new JObject { ["plugin"] = s.Plugin, ["version"] = s.Version, ["options"] = s.Options })),
            ["layers"] = layers,
        };
        return o.ToString(Formatting.None);
    }

    /// <summary>Parses <see cref="ToJson"/>'s output.</summary>
    /// <exception cref="CompressException">Malformed manifest or a newer format version.</exception>
    public static CompressionManifest FromJson(string json)
    {
        try
        {
            var o = JObject.Parse(json);
            int version = (int?)o["formatVersion"] ?? throw new FormatException("no formatVersion");
            if (version > CurrentFormatVersion)
                throw new CompressException(ErrorKind.InvalidInput, $"compressed checkpoint format {version} is newer than this tool's ({CurrentFormatVersion}); update compress");
            ArchitectureSpec? arch = o["architecture"] is JObject a
                ? new ArchitectureSpec((string?)a["name"] ?? throw new FormatException("architecture without name"), a["config"] as JObject ?? new JObject())
                : null;
            var steps = (o["steps"] as JArray ?? []).Select(s => new AppliedStep(
                (string?)s["plugin"] ?? "?", (string?)s["version"] ?? "?", s["options"] as JObject ?? new JObject())).ToList();
            var layers = new Dictionary<string, CompressedLayerEntry>(StringComparer.Ordinal);
            if (o["layers"] is JObject l)
                foreach (var p in l.Properties())
                    layers[p.Name] = new CompressedLayerEntry((string?)p.Value["kind"] ?? throw new FormatException($"layer '{p.Name}' has no kind"),
                        p.Value["config"] as JObject ?? new JObject());
            return new CompressionManifest(version, arch, steps, layers);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidCastException or ArgumentException or NullReferenceException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"malformed compression manifest: {e.Message.Split('\n')[0].Trim()}");
        }
    }
}

/// <summary>One compressed layer in a manifest.</summary>
public sealed record CompressedLayerEntry(string Kind, JObject Config);
