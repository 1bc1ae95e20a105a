using System.Globalization;
using System.Text;

namespace Compressor.Host.Console;

/// <summary>Text that came from a file (a plugin manifest, a checkpoint's tensor names and metadata, a reason quoting
/// either) made safe to print on a terminal: control characters — ESC, CR, LF, BEL, DEL, the C1 range — and the
/// Unicode controls that reorder or hide text (bidirectional overrides and isolates, zero-width marks, line and
/// paragraph separators) are written as visible escapes (<c>\e</c>, <c>\n</c>, <c>\u202e</c>), so a file can neither
/// forge table rows nor retitle or recolour the terminal; and each cell is capped at a number of columns, so a
/// 10 MB field prints as one short line.</summary>
public static class TerminalText
{
    /// <summary>The default cap of one table cell or field, in characters.</summary>
    public const int DefaultColumns = 120;

    /// <summary><paramref name="text"/> escaped and cut to at most <paramref name="maxColumns"/> characters (an ellipsis
    /// and the original length mark a cut).</summary>
    public static string Cell(string? text, int maxColumns = DefaultColumns)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var sb = new StringBuilder(Math.Min(text.Length, maxColumns) + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (sb.Length >= maxColumns)
            {
                sb.Append("… (").Append(text.Length.ToString("N0", CultureInfo.InvariantCulture)).Append(" chars)");
                return sb.ToString();
            }
            Append(sb, rune);
        }
        return sb.ToString();
    }

    /// <summary><paramref name="text"/> escaped as <see cref="Cell"/> escapes it, but whole and with its line breaks and
    /// tabs kept (generated text: a model can emit any byte, an escape sequence included).</summary>
    public static string Multiline(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var sb = new StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is '\n' or '\t') sb.Append((char)rune.Value);
            else Append(sb, rune);
        }
        return sb.ToString();
    }

    /// <summary>Whether <paramref name="rune"/> is printed as an escape.</summary>
    public static bool IsUnsafe(Rune rune)
    {
        int v = rune.Value;
        if (v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F)) return true;
        return v is 0x061C or 0x200B or 0x200C or 0x200D or 0x200E or 0x200F or 0x2028 or 0x2029 or 0xFEFF
               || (v >= 0x202A && v <= 0x202E) || (v >= 0x2066 && v <= 0x2069);
    }

    private static void Append(StringBuilder sb, Rune rune)
    {
        if (!IsUnsafe(rune))
        {
            sb.Append(rune.ToString());
            return;
        }
        switch (rune.Value)
        {
            case '\n': sb.Append("\\n"); break;
            case '\r': sb.Append("\\r"); break;
            case '\t': sb.Append("\\t"); break;
            case 0x1B: sb.Append("\\e"); break;
            default: sb.Append("\\u").Append(rune.Value.ToString("x4", CultureInfo.InvariantCulture)); break;
        }
    }
}
