namespace Compressor.Host.Commands;

/// <summary>Plain aligned text tables for stdout (no escape codes, so they read the same in files and pipes).</summary>
public static class TextTable
{
    /// <summary>Writes a table; the last column is not padded.</summary>
    public static void Write(TextWriter w, IReadOnlyList<string> headers, IReadOnlyList<string[]> rows)
    {
        int n = headers.Count;
        var widths = new int[n];
        for (int c = 0; c < n; c++)
            widths[c] = Math.Max(headers[c].Length, rows.Count == 0 ? 0 : rows.Max(r => (r[c] ?? "").Length));
        void Line(IReadOnlyList<string> cells) =>
            w.WriteLine(string.Join("  ", Enumerable.Range(0, n).Select(c => c == n - 1 ? cells[c] ?? "" : (cells[c] ?? "").PadRight(widths[c]))).TrimEnd());
        Line(headers);
        foreach (var r in rows) Line(r);
    }
}
