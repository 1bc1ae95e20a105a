using Compressor.Sdk;
using Newtonsoft.Json.Linq;

namespace Compressor.Plugins.StatsQ.Compressed;

/// <summary>Reads the manifest configs of the StatsQ layer kinds, with one-line errors.</summary>
internal static class ConfigReader
{
    public static CompressException Invalid(string what) => new(ErrorKind.InvalidInput, $"{what}: compressed layer config missing or invalid");

    public static long Int(JObject c, string key, long min, long max, string what)
    {
        var t = c[key];
        if (t is null || t.Type != JTokenType.Integer || (long)t < min || (long)t > max)
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: compressed layer config '{key}' missing or out of range {min}..{max}");
        return (long)t;
    }

    public static bool Bool(JObject c, string key, string what) => c[key]?.Type == JTokenType.Boolean
        ? (bool)c[key]! : throw new CompressException(ErrorKind.InvalidInput, $"{what}: compressed layer config '{key}' missing or invalid");

    public static long[] Shape(JObject c, string key, string what) =>
        c[key] is JArray a && a.Count <= 4 && a.All(x => x.Type == JTokenType.Integer && (long)x >= 1 && (long)x <= 1 << 24)
            ? a.Select(x => (long)x).ToArray()
            : throw new CompressException(ErrorKind.InvalidInput, $"{what}: compressed layer config '{key}' missing or invalid");
}
