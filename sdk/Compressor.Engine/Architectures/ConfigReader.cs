using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Architectures;

/// <summary>Typed, checked access to an architecture config, with one-line errors.</summary>
internal static class ConfigReader
{
    public static int Int(JObject c, string key, int min, int max)
    {
        var t = c[key];
        if (t is null || t.Type != JTokenType.Integer) throw Bad(key, "an integer");
        long v = (long)t;
        if (v < min || v > max) throw Bad(key, $"in {min}..{max}");
        return (int)v;
    }

    public static int[] Ints(JObject c, string key, int min, int max)
    {
        if (c[key] is not JArray a || a.Any(x => x.Type != JTokenType.Integer)) throw Bad(key, "an array of integers");
        var v = a.Select(x => (long)x).ToArray();
        if (v.Any(x => x < min || x > max)) throw Bad(key, $"integers in {min}..{max}");
        return v.Select(x => (int)x).ToArray();
    }

    public static double Double(JObject c, string key, double min, double max)
    {
        var t = c[key];
        if (t is null || (t.Type != JTokenType.Float && t.Type != JTokenType.Integer)) throw Bad(key, "a number");
        double v = (double)t;
        if (!(v >= min && v <= max)) throw Bad(key, $"in {min}..{max}");
        return v;
    }

    public static bool Bool(JObject c, string key)
    {
        var t = c[key];
        if (t is null || t.Type != JTokenType.Boolean) throw Bad(key, "true or false");
        return (bool)t;
    }

    public static string Choice(JObject c, string key, params string[] allowed)
    {
        string? v = c[key]?.Type == JTokenType.String ? (string?)c[key] : null;
        if (v is null || !allowed.Contains(v)) throw Bad(key, "one of " + string.Join(", ", allowed));
        return v;
    }

    public static JObject Merge(JObject defaults, JObject? given, string arch)
    {
        var result = (JObject)defaults.DeepClone();
        if (given is null) return result;
        foreach (var p in given.Properties())
        {
            if (result[p.Name] is null) throw new CompressException(ErrorKind.InvalidOptions,
                $"architecture {arch}: unknown config key '{p.Name}' (known: {string.Join(", ", defaults.Properties().Select(x => x.Name))})");
            result[p.Name] = p.Value.DeepClone();
        }
        return result;
    }

    private static CompressException Bad(string key, string what) =>
        new(ErrorKind.InvalidOptions, $"architecture config '{key}' must be {what}");
}
