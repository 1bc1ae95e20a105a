using System.CommandLine;
using System.Globalization;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Host.Pipeline;
using Compressor.Layers;
using Compressor.Sdk.Data;

namespace Compressor.Host.Commands;

/// <summary><c>compress train ARCH --data SPEC --out DIR</c>: an FP32 baseline of a built-in architecture, trained by
/// <see cref="TrainPipeline"/>.</summary>
public static class TrainCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var arch = new Argument<string>("arch") { Description = $"Architecture or preset: {string.Join(", ", ArchitectureDefaults.Names)}. Sizes follow the data unless --config says otherwise." };
        var data = new Option<string>("--data", "-d") { Description = "Data set: " + DataSources.Help, Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: model.safetensors (architecture in its metadata) and train.json.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => 30 };
        var lr = new Option<double>("--learning-rate") { Description = "Peak learning rate (AdamW; linear warm-up over 5% of the steps, cosine decay to 1%).", DefaultValueFactory = _ => 3e-3 };
        var oldLr = new Option<double?>("--lr") { Description = "Former name of --learning-rate (accepted until the next minor version).", Hidden = true };
        var batch = new Option<int>("--batch-size") { Description = "Samples per step.", DefaultValueFactory = _ => 32 };
        var wd = new Option<double>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation, data splits and order.", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the last completed epoch of an interrupted run with the same --out." };
        var config = new Option<string?>("--config") { Description = "Architecture config overrides as JSON, e.g. '{\"depth\": 6, \"dim\": 128}'." };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("train", "Train an FP32 baseline of a built-in architecture on a data set (AdamW + cosine schedule), evaluating on the held-out split after every epoch; resumable with --resume.");
        cmd.Arguments.Add(arch);
        foreach (var o in new Option[] { data, output, epochs, lr, oldLr, batch, wd, seed, resume, config, device }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new TrainRequest(pr.GetValue(arch)!, pr.GetValue(data)!, pr.GetValue(output)!, pr.GetValue(epochs),
            LearningRate(pr, lr, oldLr, env), pr.GetValue(batch), pr.GetValue(wd), pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(config), pr.GetValue(device)!))));
        return cmd;
    }

    /// <summary>--learning-rate, or its former name --lr (with a notice).</summary>
    private static double LearningRate(ParseResult pr, Option<double> current, Option<double?> former, CommandEnvironment env)
    {
        if (pr.GetValue(former) is not { } old) return pr.GetValue(current);
        if (pr.GetResult(current) is { Implicit: false })
            throw new Sdk.CompressException(Sdk.ErrorKind.InvalidOptions, "--lr is the former name of --learning-rate: give one of them");
        env.Logger().Log(Sdk.Diagnostics.LogLevel.Warning, "train: option --lr is now --learning-rate (the old name is accepted until the next minor version)");
        return old;
    }

    /// <summary>Trains (a freshly built model has no compressed layer: the layers library's kinds suffice, no plugin is
    /// loaded) and prints the summary (text or JSON) on stdout.</summary>
    public static ExitCode Handle(CommandEnvironment env, TrainRequest request)
    {
        var kinds = new LayerKindSet(BuiltInLayerKinds.All);
        var log = env.Logger();
        var result = env.Progress().Run(progress => new TrainPipeline(kinds, log, progress).Execute(request, env.Cancellation));
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new TrainOutput(JsonOutput.SchemaVersion, result.Files, result.Report));
            return ExitCode.Success;
        }
        env.Out.WriteLine($"wrote {result.OutputDirectory}");
        foreach (var f in result.Files) env.Out.WriteLine($"  {Path.GetFileName(f)}");
        TextTable.Write(env.Out, ["EPOCH", "TRAIN LOSS", "EVAL LOSS", result.DataKind == DataKind.Images ? "ACCURACY" : "PERPLEXITY", "SECONDS"],
            result.Report.History.Select(h => new[]
            {
                h.Epoch.ToString(CultureInfo.InvariantCulture), h.TrainLoss.ToString("F4", CultureInfo.InvariantCulture),
                h.EvalLoss.ToString("F4", CultureInfo.InvariantCulture),
                h.EvalAccuracy is { } a ? a.ToString("P2", CultureInfo.InvariantCulture) : (h.EvalPerplexity ?? 0).ToString("F2", CultureInfo.InvariantCulture),
                h.Seconds.ToString("F1", CultureInfo.InvariantCulture),
            }).ToList());
        return ExitCode.Success;
    }
}
