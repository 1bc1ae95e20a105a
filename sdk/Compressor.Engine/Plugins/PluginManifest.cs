using Compressor.Sdk.Models;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Plugins;

/// <summary>What a plugin declares about itself in <c>plugin.json</c> beside its assembly, read before any code of
/// the plugin loads: identity, the SDK version it targets, its kind, the data it needs, the layer types it targets,
/// and where its entry type lives.</summary>
public sealed record PluginManifest
{
    /// <summary>The manifest file name.</summary>
    public const string FileName = "plugin.json";

    /// <summary>The largest manifest read (a real one is a few hundred bytes).</summary>
    public const long MaxBytes = 64 << 10;

    /// <summary>Unique id, lower-case, used on the command line (<c>compress run ID</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The plugin's own SemVer version.</summary>
    public required string Version { get; init; }

    /// <summary>The SDK version it was built against.</summary>
    public required string SdkVersion { get; init; }

    /// <summary>One line describing the method (and the paper it implements).</summary>
    public string Description { get; init; } = "";

    /// <summary>What it does.</summary>
    public PluginKind Kind { get; init; } = PluginKind.Transform;

    /// <summary>The data it needs.</summary>
    public DataRequirement Needs { get; init; } = DataRequirement.None;

    /// <summary>The layer types it rewrites (<c>"targets"</c>: <c>"linear"</c>, <c>["linear", "conv2d"]</c>, …).</summary>
    public LayerType Targets { get; init; } = LayerType.Linear;

    /// <summary>Which weights it may change (<c>"updates": "selection" | "model"</c>; default selection).</summary>
    public WeightUpdateScope Updates { get; init; } = WeightUpdateScope.Selection;

    /// <summary>Whether the plugin works inside one transformer block at a time (<c>"streaming": "block"</c>; default
    /// <c>"none"</c>): run on a single block of a decoder — given that block's inputs as its calibration data — and then
    /// on the head, it computes what it computes on the whole model, so the host may hold one block at a time.</summary>
    public bool StreamsByBlock { get; init; }

    /// <summary>The assembly file (relative to the manifest).</summary>
    public required string Assembly { get; init; }

    /// <summary>The full name of the class implementing <see cref="Sdk.Plugins.ICompressionPlugin"/>.</summary>
    public required string EntryType { get; init; }

    /// <summary>Reads and checks a manifest.</summary>
    /// <exception cref="CompressException">Missing file, bad JSON, a missing or invalid field — one line.</exception>
    public static PluginManifest Read(string path)
    {
        // Bounded, and only a regular file: a manifest that is a FIFO or links to /dev/zero is refused, not read.
        return Parse(IO.InputFiles.ReadAllText(path, MaxBytes, ErrorKind.PluginUnavailable));
    }

    /// <summary>Parses and checks manifest JSON.</summary>
    /// <exception cref="CompressException">Bad JSON or a missing/invalid field — one line.</exception>
    public static PluginManifest Parse(string json)
    {
        JObject o;
        try
        {
            o = IO.StrictJson.Object(json, maxDepth: 16);
        }
        catch (JsonException e)
        {
            throw Bad($"not valid JSON ({e.Message.Split('\n')[0].Trim()})");
        }
        string Str(string key, bool required = true)
        {
            var t = o[key];
            if (t is null) return required ? throw Bad($"missing \"{key}\"") : "";
            if (t.Type != JTokenType.String) throw Bad($"\"{key}\" must be a string");
            string v = (string)t!;
            if (required && string.IsNullOrWhiteSpace(v)) throw Bad($"\"{key}\" is empty");
            return v;
        }
        T Enum<T>(string key, T fallback) where T : struct, System.Enum
        {
            var t = o[key];
            if (t is null) return fallback;
            if (t is JArray arr && typeof(T).IsDefined(typeof(FlagsAttribute), false))
            {
                long bits = 0;
                foreach (var x in arr) bits |= Convert.ToInt64(ParseEnum<T>(key, x), System.Globalization.CultureInfo.InvariantCulture);
                return (T)System.Enum.ToObject(typeof(T), bits);
            }
            return ParseEnum<T>(key, t);
        }
        foreach (var (key, max) in new[] { ("version", 64), ("sdkVersion", 64), ("description", 1000), ("assembly", 255), ("entryType", 512) })
            if (o[key] is JValue { Type: JTokenType.String } f && ((string)f!).Length > max) throw Bad($"\"{key}\" is longer than {max} characters");
        string id = Str("id");
        if (!System.Text.RegularExpressions.Regex.IsMatch(id, "^[a-z0-9][a-z0-9._-]{0,63}$"))
            throw Bad($"id '{id}' must be lower-case letters, digits, '.', '_' or '-'");
        string version = Str("version"), sdk = Str("sdkVersion");
        if (!System.Version.TryParse(version.Split('-', '+')[0], out _)) throw Bad($"version '{version}' is not SemVer");
        if (!System.Version.TryParse(sdk.Split('-', '+')[0], out _)) throw Bad($"sdkVersion '{sdk}' is not SemVer");
        string assembly = Str("assembly");
        if (Path.IsPathRooted(assembly) || assembly.Contains("..", StringComparison.Ordinal) || assembly.IndexOfAny(['/', '\\']) >= 0)
            throw Bad($"assembly '{assembly}' must be a file name beside the manifest");
        return new PluginManifest
        {
            Id = id, Version = version, SdkVersion = sdk, Description = Str("description", required: false),
            Kind = Enum("kind", PluginKind.Transform), Needs = Enum("needs", DataRequirement.None), Targets = Enum("targets", LayerType.Linear),
            Updates = Enum("updates", WeightUpdateScope.Selection), StreamsByBlock = Streaming(o["streaming"]),
            Assembly = assembly, EntryType = Str("entryType"),
        };
    }

    private static bool Streaming(JToken? t) => t switch
    {
        null => false,
        { Type: JTokenType.String } when (string)t! == "block" => true,
        { Type: JTokenType.String } when (string)t! == "none" => false,
        _ => throw Bad($"\"streaming\" value {t.ToString(Formatting.None)} is not one of block, none"),
    };

    private static T ParseEnum<T>(string key, JToken t) where T : struct, System.Enum
    {
        if (t.Type == JTokenType.String && System.Enum.TryParse<T>(((string)t!).Replace("-", ""), ignoreCase: true, out var v) && System.Enum.IsDefined(v))
            return v;
        throw Bad($"\"{key}\" value {t.ToString(Formatting.None)} is not one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
    }

    private static CompressException Bad(string what) => new(ErrorKind.PluginUnavailable, $"invalid {FileName}: {what}");
}
