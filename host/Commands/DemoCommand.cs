using System.CommandLine;
using Compressor.Host.Demo;
using Compressor.Sdk;
using Spectre.Console;

namespace Compressor.Host.Commands;

/// <summary><c>compress demo [--out DIR] [--model vit|minilm] [--quick]</c>: the whole pipeline on the embedded
/// default, with no network: a base model (a small ViT trained on the embedded digits, or the real MiniLM), then every
/// step of <c>demo-steps.json</c> compressed, exported, verified and evaluated on ONNX Runtime, one comparison
/// report.html/report.json, and a summary table on stdout.</summary>
public static class DemoCommand
{
    /// <summary>The default output folder.</summary>
    public const string DefaultOutput = "demo-out";

    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var output = new Option<string>("--out", "-o") { Description = "Output folder: base/ (the trained model), steps/NAME/ (each step's run outputs), recipes/, report.json, report.html.", DefaultValueFactory = _ => DefaultOutput };
        var model = new Option<string>("--model") { Description = "vit: a small ViT trained here on the embedded digits; minilm: the real all-MiniLM-L6-v2 on real sentences.", DefaultValueFactory = _ => "vit" }
            .AcceptOnlyFromAmong("vit", "minilm");
        var quick = new Option<bool>("--quick") { Description = "A smoke run: fewer training epochs and the steps' quickOptions (results are not representative)." };
        var seed = new Option<int>("--seed") { Description = "Seed for training, data splits and every step.", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var steps = new Option<string?>("--steps") { Description = "A demo-steps.json to use instead of the built-in list (same format: models → train/pretrained, data, steps of recipes)." };
        var evalLimit = CommonOptions.EvalLimit();
        var cmd = new Command("demo", "Run the whole pipeline on the embedded default with no network: train (or load) a base model, compress it with each demo recipe " +
                                      "(steps whose plugin is not installed are skipped), export, verify and evaluate each on ONNX Runtime, and write one comparison report.");
        foreach (var o in new Option[] { output, model, quick, seed, device, steps, evalLimit }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new DemoRequest(pr.GetValue(model)!, pr.GetValue(output)!, pr.GetValue(quick), pr.GetValue(seed),
            pr.GetValue(device)!, pr.GetValue(steps), pr.GetValue(evalLimit)))));
        return cmd;
    }

    /// <summary>Runs the demo and prints the summary; the exit code is that of the first failed step, if any.</summary>
    public static ExitCode Handle(CommandEnvironment env, DemoRequest request)
    {
        if (request.Seed < 0) throw new CompressException(ErrorKind.InvalidOptions, $"--seed {request.Seed} must be ≥ 0");
        var result = new DemoRunner(env.Catalog(), env.Error, env.Verbosity, env.Cancellation).Run(request);
        if (env.Json)
        {
            JsonOutput.Write(env.Out, result.Report);
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(env.Out), Interactive = InteractionSupport.No });
            // Redirected output (a file, CI log) has no width: draw the table at its natural width, not 80 columns.
            if (!ReferenceEquals(env.Out, System.Console.Out) || System.Console.IsOutputRedirected) console.Profile.Width = 200;
            var table = new Table().Border(TableBorder.Rounded);
            var headers = DemoTable.Headers(result.Report);
            foreach (var (h, i) in headers.Select((h, i) => (h, i)))
                table.AddColumn(i >= 2 && i != 1 ? new TableColumn(Markup.Escape(h)).RightAligned() : new TableColumn(Markup.Escape(h)));
            foreach (var row in DemoTable.Rows(result.Report)) table.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(table);
            env.Out.WriteLine($"report: {Path.Combine(result.OutputDirectory, DemoReport.HtmlFile)} (and {DemoReport.JsonFile}); " +
                              $"{result.Report.Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s");
        }
        var failed = result.Steps.FirstOrDefault(s => s.Status == DemoStepStatus.Failed);
        if (failed?.Error is { } e)
        {
            env.Error.WriteLine($"error: demo step '{failed.Step.Name}' failed: {e.Message}");
            return ExitCodes.For(e.Kind);
        }
        return ExitCode.Success;
    }
}
