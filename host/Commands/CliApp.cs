using System.CommandLine;
using Compressor.Host.Console;
using Compressor.Host.Results;
using Compressor.Sdk;

namespace Compressor.Host.Commands;

/// <summary>The <c>compress</c> command line: builds the command tree and runs one invocation with the given
/// writers, mapping every failure to a one-line message on stderr and an <see cref="ExitCode"/>.</summary>
public static class CliApp
{
    /// <summary>Runs <c>compress</c> with <paramref name="args"/>; results go to <paramref name="stdout"/>, logs and errors to <paramref name="stderr"/>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellation = default)
    {
        var verbosity = CommonOptions.Verbosity();
        var format = CommonOptions.Format();
        var plugins = CommonOptions.Plugins();
        var threads = CommonOptions.Threads();
        var libtorch = LibTorchOption.Create();
        var root = new RootCommand("compress: compress neural networks with plugins and export models that ONNX Runtime runs.\n" +
                                   "Results go to stdout; logs and progress to stderr. Exit codes are listed in the README.");
        // --version: the host's version and the SDK's, from their one source each (ToolInfo, SdkInfo), and the device line.
        foreach (var v in root.Options.OfType<VersionOption>()) v.Action = new VersionAction(stdout);
        root.Options.Add(verbosity);
        root.Options.Add(format);
        root.Options.Add(plugins);
        root.Options.Add(threads);
        root.Options.Add(libtorch);

        CommandEnvironment Env(ParseResult pr) => new(stdout, stderr, VerbosityExtensions.Parse(pr.GetValue(verbosity)!),
            pr.GetValue(format) == "json", pr.GetValue(plugins) ?? [], cancellation);

        int Execute(ParseResult pr, Func<CommandEnvironment, ExitCode> body)
        {
            var env = Env(pr);
            try
            {
                Compressor.Engine.Runtime.ComputeThreads.Apply(pr.GetValue(threads) ?? Compressor.Engine.Runtime.ComputeThreads.Default());
                return (int)body(env);
            }
            catch (CompressException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                if (env.Verbosity >= Verbosity.Diagnostic) stderr.WriteLine(e);
                return (int)ExitCodes.For(e.Kind);
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine("error: cancelled");
                return (int)ExitCode.Cancelled;
            }
            catch (Exception e)
            {
                stderr.WriteLine($"error: internal error (a bug in compress, please report it): {e.GetType().Name}: {CompressException.OneLine(e.Message.Split('\n')[0].Trim())}");
                if (env.Verbosity >= Verbosity.Diagnostic) stderr.WriteLine(e);
                return (int)ExitCode.InternalError;
            }
        }

        root.Subcommands.Add(PluginCommands.Create(pr => Env(pr), Execute));
        root.Subcommands.Add(RunCommand.Create(Execute));
        root.Subcommands.Add(TrainCommand.Create(Execute));
        root.Subcommands.Add(InspectCommand.Create(Execute));
        root.Subcommands.Add(ExportCommand.Create(Execute));
        root.Subcommands.Add(EvalCommand.Create(Execute));
        root.Subcommands.Add(SearchCommand.Create(Execute));
        root.Subcommands.Add(GenerateCommand.Create(Execute));
        root.Subcommands.Add(DemoCommand.Create(Execute));
        root.Subcommands.Add(DocsCommand.Create(root, Execute));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Every error, one line each, the unknown names first with their nearest known ones; the last points at the help.
            var errors = ParseErrors.Explain(parse);
            string path = ParseErrors.Path(parse);
            for (int i = 0; i < errors.Count; i++)
                stderr.WriteLine($"error: {errors[i]}{(i == errors.Count - 1 ? $" (see 'compress {(path.Length > 0 ? path + " " : "")}--help')" : "")}");
            return (int)ExitCode.InvalidArguments;
        }
        // The libtorch to run is chosen before anything loads TorchSharp's native library (help needs none).
        if (parse.Action is not System.CommandLine.Help.HelpAction && LibTorchOption.Apply(parse.GetValue(libtorch), stderr) is { } failed) return failed;
        if (PluginHelp.Handles(parse)) return PluginHelp.Write(parse, stdout, stderr, Env);
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    private sealed class VersionAction(TextWriter stdout) : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            stdout.WriteLine(ToolInfo.Current.ToString());
            stdout.WriteLine(Native.DeviceReport.Describe().Line());
            return 0;
        }
    }
}
