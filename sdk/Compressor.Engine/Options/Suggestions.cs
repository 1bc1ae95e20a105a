namespace Compressor.Engine.Options;

/// <summary>"Did you mean" for mistyped names: the known names within a small edit distance of what was typed.</summary>
public static class Suggestions
{
    /// <summary>The known names nearest to <paramref name="typed"/> (case-insensitive Damerau–Levenshtein distance at
    /// most a third of its length, at least 1, and names that start with it), best first, at most
    /// <paramref name="max"/>.</summary>
    public static IReadOnlyList<string> For(string typed, IEnumerable<string> known, int max = 3)
    {
        string t = typed.ToLowerInvariant();
        int limit = Math.Max(1, t.TrimStart('-').Length / 3);
        return known.Distinct(StringComparer.Ordinal)
            .Select(k => (Name: k, Distance: Distance(t, k.ToLowerInvariant())))
            .Where(p => p.Distance <= limit || (t.TrimStart('-').Length >= 2 && p.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal)
            .Take(max).Select(p => p.Name).ToList();
    }

    /// <summary>" (did you mean a or b?)", or "" when nothing is near.</summary>
    public static string Phrase(string typed, IEnumerable<string> known)
    {
        var near = For(typed, known);
        return near.Count == 0 ? "" : $" (did you mean {string.Join(" or ", near.Select(n => $"'{n}'"))}?)";
    }

    /// <summary>The optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
