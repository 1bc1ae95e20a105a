using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Compressor.Engine.Options;
using Compressor.Sdk;

namespace Compressor.Host.Commands;

/// <summary><c>compress run PLUGIN --help</c>: the run command's help, whose usage names the plugin, followed by the
/// plugin's own options — the table of <c>compress plugin describe PLUGIN</c>. Without a plugin (or with a recipe) the
/// help ends with where plugin options come from and the installed plugins.</summary>
public static class PluginHelp
{
    /// <summary>Whether <paramref name="parse"/> asks for the help of <c>run</c>.</summary>
    public static bool Handles(ParseResult parse) =>
        parse.Action is HelpAction && parse.CommandResult.Command.Name == "run" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command: RootCommand };

    /// <summary>Writes the help of <c>run</c> (System.CommandLine's, with the plugin in its usage) and the plugin's
    /// options to <paramref name="stdout"/>.</summary>
    public static int Write(ParseResult parse, TextWriter stdout, TextWriter stderr, Func<ParseResult, CommandEnvironment> env)
    {
        var text = new StringWriter();
        int code = parse.Invoke(new InvocationConfiguration { Output = text, Error = stderr, EnableDefaultExceptionHandler = false });
        var argument = parse.CommandResult.Command.Arguments.FirstOrDefault();
        string? target = argument is null ? null : parse.GetResult(argument)?.Tokens.FirstOrDefault()?.Value;
        bool plugin = target is { Length: > 0 } && !target.StartsWith('-') && !target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !File.Exists(target);
        foreach (string line in Sections(text.ToString()))
        {
            // Plugin options are the tokens 'run' does not know; System.CommandLine calls them "additional arguments".
            if (line.Contains(" run <plugin|recipe>", StringComparison.Ordinal) && line.StartsWith("  ", StringComparison.Ordinal))
                stdout.WriteLine(plugin
                    ? $"  compress run {target} --model PATH --out DIR [options] [{target} options]"
                    : "  compress run <plugin|recipe> --model PATH --out DIR [options] [plugin options]");
            else stdout.WriteLine(line);
        }
        PluginOptions(stdout, plugin ? target : null, parse, env);
        return code;
    }

    /// <summary>The lines of the help text without its "Additional Arguments" section.</summary>
    private static IEnumerable<string> Sections(string help)
    {
        bool skip = false;
        foreach (string line in help.TrimEnd().Split('\n'))
        {
            string l = line.TrimEnd('\r');
            if (l.StartsWith("Additional Arguments:", StringComparison.Ordinal)) { skip = true; continue; }
            if (skip && l.Length > 0 && !char.IsWhiteSpace(l[0])) skip = false;
            if (!skip) yield return l;
        }
    }

    private static void PluginOptions(TextWriter w, string? id, ParseResult parse, Func<ParseResult, CommandEnvironment> env)
    {
        var catalog = env(parse).Catalog();
        var available = catalog.Entries.Where(e => e.IsAvailable).Select(e => e.Id).ToList();
        w.WriteLine();
        if (id is null)
        {
            w.WriteLine("Plugin options:");
            w.WriteLine($"  Each plugin's options follow the plugin id as --flags; 'compress run PLUGIN --help' lists them. Installed: {(available.Count == 0 ? "none" : string.Join(", ", available))}.");
            return;
        }
        try
        {
            var entry = catalog.Require(id);
            w.WriteLine($"Options of plugin '{entry.Id}' {entry.Manifest!.Version} (as 'compress plugin describe {entry.Id}' lists them; in a recipe, their camelCase names):");
            PluginCommands.WriteOptions(w, OptionsSchema.For(entry.Instance!.OptionsType));
        }
        catch (CompressException e)
        {
            w.WriteLine("Plugin options:");
            w.WriteLine($"  {e.Message}{Suggestions.Phrase(id, available)}");
        }
    }
}
