using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Commands;

/// <summary>Writes <c>--format json</c> results: one indented JSON object with a <c>schemaVersion</c>.</summary>
public static class JsonOutput
{
    /// <summary>The version of every command's JSON output.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Writes <paramref name="body"/> with the schema version first.</summary>
    public static void Write(TextWriter writer, JObject body)
    {
        var o = new JObject { ["schemaVersion"] = SchemaVersion };
        foreach (var p in body.Properties()) o[p.Name] = p.Value;
        writer.WriteLine(o.ToString(Formatting.Indented));
    }
}
