using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Training;
using Compressor.Host.Results;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one <c>compress train</c>: an FP32 baseline of a built-in architecture sized from the data
/// (<see cref="ArchitectureDefaults"/>), trained by the engine's <see cref="Trainer"/> (resumable from its work folder),
/// written as model.safetensors (architecture in its metadata) and train.json through <see cref="OutputStaging"/>.</summary>
/// <param name="kinds">The layer kinds the model is built with (a freshly trained model has no compressed layer).</param>
/// <param name="log">Progress messages.</param>
/// <param name="progress">Progress of the epochs.</param>
public sealed class TrainPipeline(LayerKindSet kinds, IPluginLogger log, IProgressReporter progress)
{
    /// <summary>The work folder under the output folder, for the resumable epoch checkpoints.</summary>
    public const string WorkFolder = ".work";

    /// <summary>Checkpoint metadata key of the last epoch's record (without its timing).</summary>
    public const string TrainingMetadataKey = "compress.training";

    /// <summary>Executes <paramref name="r"/>.</summary>
    /// <exception cref="CompressException">Any user-facing failure, with its kind.</exception>
    public TrainResult Execute(TrainRequest r, CancellationToken cancellation)
    {
        if (r.Epochs < 1 || r.Epochs > 100_000) throw new CompressException(ErrorKind.InvalidOptions, $"--epochs {r.Epochs} is out of range (1..100000)");
        if (r.BatchSize < 1 || r.BatchSize > 1 << 20) throw new CompressException(ErrorKind.InvalidOptions, $"--batch-size {r.BatchSize} is out of range (1..1048576)");
        if (!(r.LearningRate > 0 && r.LearningRate < 10)) throw new CompressException(ErrorKind.InvalidOptions, $"--learning-rate {r.LearningRate} is out of range (0..10)");
        if (!(r.WeightDecay >= 0 && r.WeightDecay < 10)) throw new CompressException(ErrorKind.InvalidOptions, $"--weight-decay {r.WeightDecay} is out of range [0, 10)");
        JObject? overrides = null;
        if (r.Config is not null)
        {
            try { overrides = JObject.Parse(r.Config); }
            catch (Newtonsoft.Json.JsonException e) { throw new CompressException(ErrorKind.InvalidOptions, $"--config is not a JSON object: {e.Message.Split('\n')[0]}"); }
        }
        var device = DeviceSelector.Resolve(r.Device);
        var clock = Stopwatch.StartNew();
        using var data = DataSources.Open(r.Data, r.Seed);
        var spec = ArchitectureDefaults.For(r.Architecture, data.Info, overrides);
        using var staging = new OutputStaging(r.OutputDirectory);
        string work = Path.Combine(staging.OutputDirectory, WorkFolder, "train");
        if (!r.Resume && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        manual_seed(r.Seed);
        using var model = ArchitectureRegistry.CreateModel(spec, kinds);
        model.Module.to(device);
        log.Info($"train: {spec.Name} {spec.Config.ToString(Newtonsoft.Json.Formatting.None)}, {model.ParameterCount():N0} parameters, " +
                 $"{data.Train.Count} training / {data.Evaluation.Count} held-out samples of {data.Info.Name}");
        var settings = new TrainingSettings(r.Epochs, r.LearningRate, r.BatchSize, r.WeightDecay, Seed: r.Seed);
        var history = new Trainer(model, data, settings, device, progress, log, work).Run(r.Resume, cancellation);
        var report = new TrainReport(TrainReport.CurrentSchemaVersion, ToolInfo.Current, spec, model.ParameterCount(),
            new TrainData(r.Data, data.Info.Name, data.Train.Count, data.Evaluation.Count), settings, history, history[^1],
            Math.Round(clock.Elapsed.TotalSeconds, 2), TrainReport.TrainedByThisProject);
        // The checkpoint's metadata leaves out timings, so that the same command (or a resumed one) gives the same bytes.
        var final = JObject.FromObject(report.Final);
        final.Remove(nameof(EpochRecord.Seconds));
        ModelIO.Save(model, staging.PathOf(TrainResult.ModelFile),
            new Dictionary<string, string> { [TrainingMetadataKey] = final.ToString(Newtonsoft.Json.Formatting.None) });
        ResultJson.WriteFile(staging.PathOf(TrainResult.ReportFile), report);
        var files = staging.Commit();
        try { Directory.Delete(Path.Combine(staging.OutputDirectory, WorkFolder), recursive: true); } catch (IOException) { }
        return new TrainResult(staging.OutputDirectory, files, report, data.Info.Kind);
    }
}
