using System.CommandLine;

namespace Compressor.Host.Commands;

/// <summary>The hidden <c>compress docs cli</c>: prints the CLI reference (docs/cli.md) generated from the command
/// tree (<see cref="CliReference"/>).</summary>
public static class DocsCommand
{
    /// <summary>Builds the command for <paramref name="root"/>.</summary>
    public static Command Create(RootCommand root, Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var cli = new Command("cli", "Print the command-line reference (Markdown), generated from the commands.");
        cli.SetAction(pr => execute(pr, env =>
        {
            env.Out.Write(CliReference.Render(root));
            return ExitCode.Success;
        }));
        var docs = new Command("docs", "Generated documentation.") { Hidden = true };
        docs.Subcommands.Add(cli);
        return docs;
    }
}
