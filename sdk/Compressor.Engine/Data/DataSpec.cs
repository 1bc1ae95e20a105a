using System.Globalization;

namespace Compressor.Engine.Data;

/// <summary>A parsed <c>--data</c> spec: <c>KIND[:PATH][,key=value]*</c>, e.g. <c>digits</c>, <c>idx:data/mnist</c>,
/// <c>text:moby.txt,tokenizer=gpt2,context=128</c>. Keys: <c>calibration=N</c> (calibration samples; default 256 for images, 64 for text and sentences),
/// <c>limit=N</c> (use at most N training samples), <c>tokenizer=char|gpt2</c>, <c>context=T</c> (text),
/// <c>validation=F</c> (held-out fraction where the source has no test split), <c>vocab=PATH</c> (sentences), and for
/// images <c>size=S</c>, <c>channels=C</c>, <c>scale=F</c> (see <see cref="ImageTransform"/>).</summary>
public sealed record DataSpec(string Kind, string? Path, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>The kinds understood.</summary>
    public static readonly string[] Kinds = ["digits", "idx", "text", "sentences", "jsonl", "npz", "images"];

    /// <summary>Parses a spec.</summary>
    /// <exception cref="CompressException">Malformed spec, in one line naming it.</exception>
    public static DataSpec Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw Bad(spec, "it is empty");
        var parts = spec.Split(',');
        string head = parts[0];
        int colon = head.IndexOf(':');
        string kind = (colon < 0 ? head : head[..colon]).Trim().ToLowerInvariant();
        string? path = colon < 0 ? null : head[(colon + 1)..];
        if (!Kinds.Contains(kind)) throw Bad(spec, $"unknown kind '{kind}' (known: {string.Join(", ", Kinds)})");
        if (kind != "digits" && string.IsNullOrEmpty(path)) throw Bad(spec, $"'{kind}' needs a path: {kind}:PATH");
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in parts.Skip(1))
        {
            int eq = p.IndexOf('=');
            if (eq <= 0) throw Bad(spec, $"'{p}' is not key=value");
            options[p[..eq].Trim()] = p[(eq + 1)..].Trim();
        }
        var known = new[] { "calibration", "limit", "tokenizer", "context", "validation", "vocab", "size", "channels", "scale", "field", "task", "input", "target" };
        foreach (var k in options.Keys)
            if (!known.Contains(k, StringComparer.OrdinalIgnoreCase)) throw Bad(spec, $"unknown key '{k}' (known: {string.Join(", ", known)})");
        return new DataSpec(kind, path, options);
    }

    /// <summary>An integer option, with bounds.</summary>
    public int Int(string key, int fallback, int min, int max)
    {
        if (!Options.TryGetValue(key, out var s)) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new CompressException(ErrorKind.InvalidOptions, $"--data: '{key}={s}' must be an integer in {min}..{max}");
        return v;
    }

    /// <summary>A fraction option in (0, 1).</summary>
    public double Fraction(string key, double fallback)
    {
        if (!Options.TryGetValue(key, out var s)) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v <= 0 || v >= 1)
            throw new CompressException(ErrorKind.InvalidOptions, $"--data: '{key}={s}' must be a number in (0, 1)");
        return v;
    }

    /// <summary>A string option restricted to <paramref name="allowed"/>.</summary>
    public string Choice(string key, string fallback, params string[] allowed)
    {
        if (!Options.TryGetValue(key, out var s)) return fallback;
        if (!allowed.Contains(s, StringComparer.OrdinalIgnoreCase))
            throw new CompressException(ErrorKind.InvalidOptions, $"--data: '{key}={s}' must be one of {string.Join(", ", allowed)}");
        return s.ToLowerInvariant();
    }

    private static CompressException Bad(string spec, string why) => new(ErrorKind.InvalidOptions, $"--data '{spec}': {why}");
}
