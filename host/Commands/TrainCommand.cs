using System.CommandLine;
using System.Diagnostics;
using Compressor.Host.Console;
using Compressor.Host.Pipeline;
using Compressor.Sdk;
using Compressor.Sdk.Architectures;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.IO;
using Compressor.Sdk.Models;
using Compressor.Sdk.Training;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Commands;

/// <summary><c>compress train ARCH --data SPEC --out DIR</c>: an FP32 baseline of a built-in architecture.</summary>
public static class TrainCommand
{
    /// <summary>What to train.</summary>
    public sealed record Request(string Architecture, string Data, string OutputDirectory, int Epochs, double LearningRate, int BatchSize,
        double WeightDecay, int Seed, bool Resume, string? Config, string Device);

    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var arch = new Argument<string>("arch") { Description = $"Architecture or preset: {string.Join(", ", ArchitectureDefaults.Names)}. Sizes follow the data unless --config says otherwise." };
        var data = new Option<string>("--data", "-d") { Description = "Data set: " + DataSources.Help, Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: model.safetensors (architecture in its metadata) and train.json.", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => 30 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW; linear warm-up over 5% of the steps, cosine decay to 1%).", DefaultValueFactory = _ => 3e-3 };
        var batch = new Option<int>("--batch-size") { Description = "Samples per step.", DefaultValueFactory = _ => 32 };
        var wd = new Option<double>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation, data splits and order.", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the last completed epoch of an interrupted run with the same --out." };
        var config = new Option<string?>("--config") { Description = "Architecture config overrides as JSON, e.g. '{\"depth\": 6, \"dim\": 128}'." };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("train", "Train an FP32 baseline of a built-in architecture on a data set (AdamW + cosine schedule), evaluating on the held-out split after every epoch; resumable with --resume.");
        cmd.Arguments.Add(arch);
        foreach (var o in new Option[] { data, output, epochs, lr, batch, wd, seed, resume, config, device }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new Request(pr.GetValue(arch)!, pr.GetValue(data)!, pr.GetValue(output)!, pr.GetValue(epochs),
            pr.GetValue(lr), pr.GetValue(batch), pr.GetValue(wd), pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(config), pr.GetValue(device)!))));
        return cmd;
    }

    /// <summary>Trains and writes the outputs atomically.</summary>
    public static ExitCode Handle(CommandEnvironment env, Request r)
    {
        if (r.Epochs < 1 || r.Epochs > 100_000) throw new CompressException(ErrorKind.InvalidOptions, $"--epochs {r.Epochs} is out of range (1..100000)");
        if (r.BatchSize < 1 || r.BatchSize > 1 << 20) throw new CompressException(ErrorKind.InvalidOptions, $"--batch-size {r.BatchSize} is out of range (1..1048576)");
        if (!(r.LearningRate > 0 && r.LearningRate < 10)) throw new CompressException(ErrorKind.InvalidOptions, $"--lr {r.LearningRate} is out of range (0..10)");
        if (!(r.WeightDecay >= 0 && r.WeightDecay < 10)) throw new CompressException(ErrorKind.InvalidOptions, $"--weight-decay {r.WeightDecay} is out of range [0, 10)");
        JObject? overrides = null;
        if (r.Config is not null)
        {
            try { overrides = JObject.Parse(r.Config); }
            catch (Newtonsoft.Json.JsonException e) { throw new CompressException(ErrorKind.InvalidOptions, $"--config is not a JSON object: {e.Message.Split('\n')[0]}"); }
        }
        var device = DeviceSelector.Resolve(r.Device);
        var log = env.Logger();
        var clock = Stopwatch.StartNew();
        using var data = DataSources.Open(r.Data, r.Seed);
        var spec = ArchitectureDefaults.For(r.Architecture, data.Info, overrides);
        using var staging = new OutputStaging(r.OutputDirectory);
        string work = Path.Combine(staging.OutputDirectory, ".work", "train");
        if (!r.Resume && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        manual_seed(r.Seed);
        using var model = new CompressibleModel(ArchitectureRegistry.Create(spec), spec);
        model.Module.to(device);
        log.Info($"train: {spec.Name} {spec.Config.ToString(Newtonsoft.Json.Formatting.None)}, {model.ParameterCount():N0} parameters, " +
                 $"{data.Train.Count} training / {data.Evaluation.Count} held-out samples of {data.Info.Name}");
        var settings = new TrainingSettings(r.Epochs, r.LearningRate, r.BatchSize, r.WeightDecay, Seed: r.Seed);
        bool bars = !System.Console.IsErrorRedirected && ReferenceEquals(env.Error, System.Console.Error) && env.Verbosity >= Verbosity.Normal;
        IReadOnlyList<EpochRecord> history;
        if (bars)
        {
            var spectre = new SpectreProgressReporter(env.Error);
            history = spectre.Run(() => new Trainer(model, data, settings, device, spectre, log, work).Run(r.Resume, env.Cancellation));
        }
        else
        {
            history = new Trainer(model, data, settings, device, new LineProgressReporter(env.Error, env.Verbosity), log, work).Run(r.Resume, env.Cancellation);
        }
        var last = history[^1];
        var summary = new JObject
        {
            ["schemaVersion"] = 1,
            ["tool"] = RunPipeline.ToolInfo(),
            ["architecture"] = new JObject { ["name"] = spec.Name, ["config"] = spec.Config },
            ["parameters"] = model.ParameterCount(),
            ["data"] = new JObject { ["spec"] = r.Data, ["name"] = data.Info.Name, ["train"] = data.Train.Count, ["evaluation"] = data.Evaluation.Count },
            ["settings"] = JObject.FromObject(settings),
            ["history"] = JArray.FromObject(history),
            ["final"] = JObject.FromObject(last),
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["trainedBy"] = "compress train (this model was trained by this project, not a published checkpoint)",
        };
        // The checkpoint's metadata leaves out timings, so that the same command (or a resumed one) gives the same bytes.
        var final = (JObject)summary["final"]!.DeepClone();
        foreach (var timing in final.Properties().Where(p => p.Name.Equals("seconds", StringComparison.OrdinalIgnoreCase)).ToList()) timing.Remove();
        ModelIO.Save(model, staging.PathOf("model.safetensors"), new Dictionary<string, string> { ["compress.training"] = final.ToString(Newtonsoft.Json.Formatting.None) });
        AtomicFile.WriteAllText(staging.PathOf("train.json"), summary.ToString() + "\n");
        var files = staging.Commit();
        try { Directory.Delete(Path.Combine(staging.OutputDirectory, ".work"), recursive: true); } catch (IOException) { }
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new JObject { ["files"] = new JArray(files), ["train"] = summary });
            return ExitCode.Success;
        }
        env.Out.WriteLine($"wrote {staging.OutputDirectory}");
        foreach (var f in files) env.Out.WriteLine($"  {Path.GetFileName(f)}");
        TextTable.Write(env.Out, ["EPOCH", "TRAIN LOSS", "EVAL LOSS", data.Info.Kind == DataKind.Images ? "ACCURACY" : "PERPLEXITY", "SECONDS"],
            history.Select(h => new[]
            {
                h.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture), h.TrainLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture),
                h.EvalLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture),
                h.EvalAccuracy is { } a ? a.ToString("P2", System.Globalization.CultureInfo.InvariantCulture) : (h.EvalPerplexity ?? 0).ToString("F2", System.Globalization.CultureInfo.InvariantCulture),
                h.Seconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture),
            }).ToList());
        return ExitCode.Success;
    }
}
