using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Models;

/// <summary>A built-in architecture and its configuration, as stored in a checkpoint's metadata so that a model
/// written by <c>compress</c> reloads with no other flag.</summary>
/// <param name="Name">The registered architecture name, e.g. <c>mlp</c>.</param>
/// <param name="Config">The architecture's configuration (sizes), complete with defaults.</param>
public sealed record ArchitectureSpec(string Name, JObject Config)
{
    /// <summary>The metadata key under which the spec is stored in safetensors files.</summary>
    public const string MetadataKey = "compress.architecture";

    /// <summary>The spec as compact JSON.</summary>
    public string ToJson() => new JObject { ["name"] = Name, ["config"] = Config }.ToString(Newtonsoft.Json.Formatting.None);

    /// <summary>Parses <see cref="ToJson"/>'s output.</summary>
    /// <exception cref="CompressException">Malformed JSON.</exception>
    public static ArchitectureSpec FromJson(string json)
    {
        try
        {
            var o = IO.StrictJson.Object(json);
            string name = (string?)o["name"] ?? throw new FormatException("no 'name'");
            return new ArchitectureSpec(name, o["config"] as JObject ?? new JObject());
        }
        catch (Exception e) when (e is Newtonsoft.Json.JsonException or FormatException or InvalidCastException or ArgumentException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"malformed architecture metadata: {e.Message}");
        }
    }
}
