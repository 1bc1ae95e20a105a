using System.Text;
using System.Text.RegularExpressions;

namespace Compressor.Sdk.Models;

/// <summary>Selects layers by fully qualified name with include/exclude globs (<c>*</c> any run of characters,
/// including dots; <c>?</c> one character). An empty include list selects everything.</summary>
public sealed class LayerSelector
{
    private readonly Regex[] _include, _exclude;

    /// <summary>Creates a selector.</summary>
    public LayerSelector(IEnumerable<string>? include, IEnumerable<string>? exclude)
    {
        Include = (include ?? []).ToArray();
        Exclude = (exclude ?? []).ToArray();
        _include = Include.Select(Compile).ToArray();
        _exclude = Exclude.Select(Compile).ToArray();
    }

    /// <summary>Everything.</summary>
    public static LayerSelector All { get; } = new([], []);

    /// <summary>The include globs.</summary>
    public IReadOnlyList<string> Include { get; }

    /// <summary>The exclude globs.</summary>
    public IReadOnlyList<string> Exclude { get; }

    /// <summary>Whether the layer <paramref name="name"/> is selected.</summary>
    public bool Matches(string name) =>
        (_include.Length == 0 || _include.Any(r => r.IsMatch(name))) && !_exclude.Any(r => r.IsMatch(name));

    private static Regex Compile(string glob)
    {
        var sb = new StringBuilder("^");
        foreach (char c in glob)
            sb.Append(c switch { '*' => ".*", '?' => ".", _ => Regex.Escape(c.ToString()) });
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
