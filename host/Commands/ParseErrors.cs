using System.CommandLine;
using Compressor.Engine.Options;

namespace Compressor.Host.Commands;

/// <summary>Every error System.CommandLine found in a command line, in our words: an unknown command, argument or
/// option comes first, with the known names nearest to it ("did you mean 'plugin'?"); the others follow as found.</summary>
public static class ParseErrors
{
    private const string Unrecognized = "Unrecognized command or argument '";

    /// <summary>One line per error of <paramref name="parse"/> (without the <c>error:</c> prefix).</summary>
    public static IReadOnlyList<string> Explain(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var unknown = new List<string>();
        var other = new List<string>();
        foreach (var e in parse.Errors)
        {
            string m = e.Message.TrimEnd('.');
            if (m.StartsWith(Unrecognized, StringComparison.Ordinal) && m.EndsWith('\''))
            {
                string token = m[Unrecognized.Length..^1];
                bool option = token.StartsWith('-');
                var known = option ? OptionNames(parse) : command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name));
                string what = option ? "option" : command.Subcommands.Any(c => !c.Hidden) ? "command" : "argument";
                unknown.Add($"unknown {what} '{token}'{(command is RootCommand ? "" : $" for 'compress {Path(parse)}'")}{Suggestions.Phrase(token, known)}");
            }
            else if (m == "Required command was not provided" && command.Subcommands.Any(c => !c.Hidden))
                other.Add($"'compress{(command is RootCommand ? "" : " " + Path(parse))}' needs a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}");
            else other.Add(m);
        }
        // 'run' passes the tokens it does not know to the plugin; one that is a near miss of run's own options is a typo.
        if (command.Name == "run" && !command.TreatUnmatchedTokensAsErrors)
            foreach (var token in parse.UnmatchedTokens.Where(t => t.StartsWith("--", StringComparison.Ordinal)))
            {
                string name = token.Split('=')[0];
                var near = Suggestions.For(name, OptionNames(parse));
                if (near.Count > 0) unknown.Add($"unknown option '{name}' for 'compress run'{Suggestions.Phrase(name, near)}");
            }
        return [.. unknown, .. other];
    }

    /// <summary>The command's path after <c>compress</c>, e.g. <c>plugin describe</c>.</summary>
    public static string Path(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
        return string.Join(' ', names);
    }

    private static IEnumerable<string> OptionNames(ParseResult parse)
    {
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            foreach (var o in r.Command.Options.Where(o => !o.Hidden && (r == parse.CommandResult || o.Recursive)))
                foreach (var n in o.Aliases.Prepend(o.Name)) yield return n;
    }
}
