using System.Text;
using System.Text.RegularExpressions;

namespace Compressor.Host.Tests;

/// <summary>What a terminal of a given width shows after receiving some output: a small emulator of the sequences
/// progress bars use (carriage return, line feed, cursor up/down/column, erase in line; colours and modes ignored),
/// keeping every row that scrolled by — the scroll-back a user reads after a command.</summary>
public static partial class TerminalScreen
{
    [GeneratedRegex(@"^\x1b\[([?0-9;]*)([A-Za-z@])")]
    private static partial Regex Csi();

    /// <summary>The rows of the screen and scroll-back, right-trimmed, trailing empty rows removed.</summary>
    public static IReadOnlyList<string> Render(string output, int columns)
    {
        var rows = new List<StringBuilder> { new() };
        int r = 0, c = 0;
        void Ensure() { while (rows.Count <= r) rows.Add(new StringBuilder()); }
        for (int i = 0; i < output.Length; i++)
        {
            char ch = output[i];
            if (ch == '\x1b')
            {
                var m = Csi().Match(output[i..Math.Min(output.Length, i + 32)]);
                if (m.Success)
                {
                    string p = m.Groups[1].Value;
                    int n = int.TryParse(p, out int v) ? v : 1;
                    switch (m.Groups[2].Value)
                    {
                        case "A": r = Math.Max(0, r - n); break;
                        case "B": r += n; Ensure(); break;
                        case "G": c = Math.Max(0, n - 1); break;
                        case "K":
                            Ensure();
                            if (p == "2") rows[r].Clear();
                            else if (p is "" or "0" && rows[r].Length > c) rows[r].Length = c;
                            break;
                    }
                    i += m.Length - 1;
                }
                else if (i + 1 < output.Length) i++;   // ESC = / ESC > and the like
                continue;
            }
            switch (ch)
            {
                case '\r': c = 0; break;
                case '\n': r++; c = 0; Ensure(); break;
                case '\b': c = Math.Max(0, c - 1); break;
                default:
                    if (char.IsControl(ch)) break;
                    if (c >= columns) { r++; c = 0; }
                    Ensure();
                    var row = rows[r];
                    while (row.Length < c) row.Append(' ');
                    if (row.Length == c) row.Append(ch); else row[c] = ch;
                    c++;
                    break;
            }
        }
        var lines = rows.Select(b => b.ToString().TrimEnd()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// <summary>The text with every kind of white space removed (a log line wrapped across rows still matches).</summary>
    public static string Squeeze(string text) => new(text.Where(ch => !char.IsWhiteSpace(ch)).ToArray());
}
