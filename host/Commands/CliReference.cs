using System.CommandLine;
using System.Text;

namespace Compressor.Host.Commands;

/// <summary>The CLI reference (docs/cli.md) rendered from the command tree itself — names, arguments, options,
/// defaults, allowed values and descriptions — so the document cannot drift from the code: a test compares the file
/// with this output, and <c>compress docs cli</c> regenerates it.</summary>
public static class CliReference
{
    /// <summary>The Markdown reference of <paramref name="root"/> and its visible subcommands.</summary>
    public static string Render(RootCommand root)
    {
        var sb = new StringBuilder();
        sb.Append("# compress command-line reference\n\n");
        sb.Append("<!-- Generated from the command definitions: do not edit. Regenerate with\n");
        sb.Append("     dotnet run --project host -c Release -- docs cli > docs/cli.md -->\n\n");
        sb.Append(root.Description).Append("\n\n");
        sb.Append("Options of every command:\n\n");
        Options(sb, root.Options.Where(o => !o.Hidden));
        foreach (var c in root.Subcommands.Where(c => !c.Hidden)) Command(sb, c, "compress");
        return sb.ToString().TrimEnd() + "\n";
    }

    private static void Command(StringBuilder sb, Command command, string parent)
    {
        string path = $"{parent} {command.Name}";
        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            sb.Append($"## `{path}`\n\n{command.Description}\n\n");
            foreach (var c in command.Subcommands.Where(c => !c.Hidden)) Command(sb, c, path);
            return;
        }
        var usage = new StringBuilder(path);
        foreach (var a in command.Arguments.Where(a => !a.Hidden)) usage.Append($" <{a.Name}>");
        if (command.Options.Any(o => !o.Hidden)) usage.Append(" [options]");
        sb.Append($"## `{path}`\n\n{command.Description}\n\n```\n{usage}\n```\n\n");
        var args = command.Arguments.Where(a => !a.Hidden).ToList();
        if (args.Count > 0)
        {
            sb.Append("| argument | description |\n|---|---|\n");
            foreach (var a in args) sb.Append($"| `{a.Name}` | {Cell(a.Description)} |\n");
            sb.Append('\n');
        }
        Options(sb, command.Options.Where(o => !o.Hidden));
    }

    private static void Options(StringBuilder sb, IEnumerable<Option> options)
    {
        var list = options.ToList();
        if (list.Count == 0) return;
        sb.Append("| option | description | default |\n|---|---|---|\n");
        foreach (var o in list)
        {
            string names = string.Join(", ", new[] { o.Name }.Concat(o.Aliases.Order(StringComparer.Ordinal)).Select(n => $"`{n}`"));
            string required = o.Required ? " (required)" : "";
            string choices = o.CompletionSources.Count > 0 && o.ValueType != typeof(bool)
                ? string.Join(", ", o.GetCompletions(System.CommandLine.Completions.CompletionContext.Empty).Select(c => c.Label)) : "";
            string description = Cell(o.Description) + (choices.Length > 0 && !o.ValueType.IsPrimitive ? $" Values: {choices}." : "");
            sb.Append($"| {names}{required} | {description} | {Default(o)} |\n");
        }
        sb.Append('\n');
    }

    private static string Default(Option o)
    {
        if (!o.HasDefaultValue) return "";
        object? v = o.GetDefaultValue();
        return v switch
        {
            null => "",
            string s => $"`{s}`",
            bool b => b ? "`true`" : "",
            System.Collections.IEnumerable e when v is not string => string.Join(" ", e.Cast<object>()) is { Length: > 0 } j ? $"`{j}`" : "",
            IFormattable f => $"`{f.ToString(null, System.Globalization.CultureInfo.InvariantCulture)}`",
            _ => $"`{v}`",
        };
    }

    private static string Cell(string? text) => (text ?? "").Replace("|", "\\|").Replace("\n", " ");
}
