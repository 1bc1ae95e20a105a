using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.IO;

/// <summary>JSON from files read strictly: a key given twice in one object is an error (JSON leaves it undefined,
/// and keeping the last value lets two tools read one file differently — a recipe option, a tensor name, a manifest
/// field), dates stay strings, and nesting is bounded.</summary>
public static class StrictJson
{
    /// <summary>Newtonsoft load settings that refuse duplicate keys.</summary>
    public static JsonLoadSettings LoadSettings { get; } = new() { DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Error };

    /// <summary>System.Text.Json document options that refuse duplicate keys.</summary>
    public static System.Text.Json.JsonDocumentOptions DocumentOptions { get; } = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    /// <summary>Parses <paramref name="json"/> as one JSON object.</summary>
    /// <exception cref="JsonException">Malformed JSON, a duplicate key, nesting deeper than <paramref name="maxDepth"/>,
    /// or anything but one object.</exception>
    public static JObject Object(string json, int maxDepth = 64)
    {
        using var reader = new JsonTextReader(new StringReader(json)) { MaxDepth = maxDepth, DateParseHandling = DateParseHandling.None };
        return Object(reader);
    }

    /// <summary>Reads one JSON object from <paramref name="reader"/>, refusing duplicate keys and trailing content.</summary>
    public static JObject Object(JsonTextReader reader)
    {
        var o = JObject.Load(reader, LoadSettings);
        if (reader.Read() && reader.TokenType != JsonToken.None && reader.TokenType != JsonToken.Comment)
            throw new JsonReaderException($"unexpected content after the JSON object (line {reader.LineNumber})");
        return o;
    }

    /// <summary>Parses <paramref name="json"/> with System.Text.Json, refusing duplicate keys.</summary>
    /// <exception cref="System.Text.Json.JsonException">Malformed JSON or a duplicate key.</exception>
    public static System.Text.Json.Nodes.JsonNode? Node(string json) =>
        System.Text.Json.Nodes.JsonNode.Parse(json, documentOptions: DocumentOptions);
}
