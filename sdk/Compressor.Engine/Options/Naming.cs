using System.Text;

namespace Compressor.Engine.Options;

/// <summary>Name conversions shared by CLI flags and JSON keys.</summary>
public static class Naming
{
    /// <summary><c>WeightBits</c> → <c>weight-bits</c>.</summary>
    public static string ToKebab(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                bool boundary = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1])
                    || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1])));
                if (boundary) sb.Append('-');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c == '_' ? '-' : c);
        }
        return sb.ToString();
    }

    /// <summary><c>WeightBits</c> → <c>weightBits</c>.</summary>
    public static string ToCamel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>Normalises a flag, JSON key or property name for lookup: lower case without '-' or '_'.</summary>
    public static string Key(string name) => name.TrimStart('-').Replace("-", "").Replace("_", "").ToLowerInvariant();
}
