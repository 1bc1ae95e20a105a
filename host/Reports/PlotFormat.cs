using System.Globalization;
using Compressor.Host.Results;

namespace Compressor.Host.Reports;

/// <summary>How report plots write numbers and names: bytes in B/KiB/MiB/GiB, fractions as percentages, other values
/// with 3–4 significant digits; axis ranges that start near the data (a difference of 0.964 and 0.992 is visible);
/// long layer names wrapped at their dots.</summary>
public static class PlotFormat
{
    /// <summary>A tick or bar label for <paramref name="value"/> in <paramref name="unit"/> (report units: <c>fraction</c>,
    /// <c>bytes</c>, <c>ms</c>, <c>MiB</c>, <c>dB</c>, …).</summary>
    public static string Value(double value, string unit) => unit switch
    {
        "fraction" => (100 * value).ToString(Math.Abs(value) >= 0.1 ? "0.0#" : "0.0##", CultureInfo.InvariantCulture) + " %",
        "bytes" => Headline.Bytes((long)Math.Round(value)),
        "" => Short(value),
        _ => Short(value) + " " + unit,
    };

    /// <summary>An axis title for <paramref name="unit"/>.</summary>
    public static string AxisTitle(string name, string unit) => unit switch
    {
        "fraction" => $"{name} (%)",
        "bytes" => $"{name} (bytes, KiB = 1024 B)",
        "" => name,
        _ => $"{name} ({unit})",
    };

    /// <summary>3–4 significant digits, no exponent for everyday magnitudes.</summary>
    public static string Short(double v)
    {
        double a = Math.Abs(v);
        string format = a == 0 ? "0" : a >= 1e6 || a < 1e-3 ? "G3" : a >= 100 ? "0" : a >= 10 ? "0.0" : a >= 1 ? "0.00" : "0.000";
        return v.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary>An axis range around <paramref name="values"/> that starts near them: the span widened by 15 % on each
    /// side (at least 1 % of the largest magnitude, so equal values get a range), never crossing zero when they do not.</summary>
    public static (double Low, double High) Near(IReadOnlyCollection<double> values)
    {
        double lo = values.Min(), hi = values.Max();
        double pad = Math.Max((hi - lo) * 0.15, Math.Max(Math.Abs(lo), Math.Abs(hi)) * 0.01);
        if (pad == 0) pad = 1;
        double low = lo - pad, high = hi + pad;
        if (lo >= 0 && low < 0) low = 0;
        if (hi <= 0 && high > 0) high = 0;
        return (low, high);
    }

    /// <summary>Whether every finite value of a series is the same (a flat line says nothing: it is not plotted).</summary>
    public static bool IsConstant(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 || list.All(v => v == list[0]);
    }

    /// <summary><paramref name="name"/> for an axis label: names longer than <paramref name="width"/> characters are
    /// wrapped at dots or spaces (a line per run of parts that fits), and a part still too long keeps its end.</summary>
    public static string Wrap(string name, int width = 28)
    {
        if (name.Length <= width) return name;
        var lines = new List<string>();
        string line = "";
        int start = 0;
        for (int i = 1; i <= name.Length; i++)
        {
            if (i < name.Length && name[i] != '.' && name[i] != ' ') continue;
            string part = name[start..i];   // starts with its separator, except the first
            if (line.Length > 0 && line.Length + part.Length > width) { lines.Add(line); line = part.TrimStart(' '); }
            else line += part;
            start = i;
        }
        if (line.Length > 0) lines.Add(line);
        return string.Join("\n", lines.Select(l => l.Length > width ? "…" + l[^(width - 1)..] : l));
    }

    /// <summary>Ticks for a byte axis from 0 to <paramref name="max"/>: round steps (1, 2 or 5 × 10ⁿ) of the unit
    /// (B, KiB, MiB, GiB) that <paramref name="max"/> is written in, about five of them.</summary>
    public static (double[] Positions, string[] Labels) ByteTicks(double max)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int u = 0;
        double scale = 1;
        while (max / scale >= 1024 && u < units.Length - 1) { scale *= 1024; u++; }
        double span = Math.Max(max / scale, 1e-9);
        double raw = span / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(f => f * magnitude).First(s => s >= raw);
        var positions = new List<double>();
        var labels = new List<string>();
        for (double v = 0; v <= span * 1.0001; v += step)
        {
            positions.Add(v * scale);
            labels.Add(v == 0 ? "0" : $"{v.ToString(step >= 1 ? "0" : "0.###", CultureInfo.InvariantCulture)} {units[u]}");
        }
        return ([.. positions], [.. labels]);
    }
}
