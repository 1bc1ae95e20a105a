using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary>Writes <c>--format json</c> results: one indented JSON object whose first field is its
/// <c>schemaVersion</c> (every output record starts with it), serialised by <see cref="ResultJson"/>.</summary>
public static class JsonOutput
{
    /// <summary>The version of every command's JSON output.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Writes <paramref name="body"/>.</summary>
    public static void Write(TextWriter writer, object body) => writer.WriteLine(ResultJson.Serialize(body));
}
