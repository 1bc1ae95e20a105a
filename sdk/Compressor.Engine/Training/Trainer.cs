using Compressor.Sdk.Training;
using System.Diagnostics;
using Compressor.Engine.Storage;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Engine.IO;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Engine.Data;
using Compressor.Engine.Checkpoints;

namespace Compressor.Engine.Training;

/// <summary>Supervised training of an executable model on image classes or next tokens: AdamW, warm-up + cosine
/// schedule per step, gradient clipping, an evaluation after every epoch, and an epoch checkpoint (model, optimizer
/// state, history) in the work folder so that a killed run resumes where it stopped. With the same seed, data, thread
/// count and machine, a resumed run ends with the same weights as an uninterrupted one: the data order of each epoch
/// depends only on (seed, epoch), and nothing else is random during training.</summary>
public sealed class Trainer(CompressibleModel model, DataSplits data, TrainingSettings settings, Device device,
    IProgressReporter progress, IPluginLogger log, string workDirectory)
{
    private string StatePath => Path.Combine(workDirectory, "train-state.json");
    private string WeightsPath(int epochsDone) => Path.Combine(workDirectory, $"train-weights-{epochsDone}.safetensors");
    private string OptimizerPath(int epochsDone) => Path.Combine(workDirectory, $"train-optimizer-{epochsDone}.bin");

    /// <summary>Trains; with <paramref name="resume"/>, continues from the last completed epoch in the work folder.</summary>
    public IReadOnlyList<EpochRecord> Run(bool resume, CancellationToken cancellation)
    {
        Directory.CreateDirectory(workDirectory);
        var history = new List<EpochRecord>();
        var parameters = model.Module.parameters().Where(p => p.requires_grad).ToList();
        var optimizer = optim.AdamW(parameters, settings.LearningRate, 0.9, 0.999, 1e-8, settings.WeightDecay);
        long stepsPerEpoch = (data.Train.Count + settings.BatchSize - 1) / settings.BatchSize;
        long totalSteps = stepsPerEpoch * settings.Epochs, step = 0;
        int startEpoch = 0;
        if (resume && File.Exists(StatePath))
        {
            var state = IO.StrictJson.Object(File.ReadAllText(StatePath));
            startEpoch = (int)state["epochsDone"]!;
            step = (long)state["step"]!;
            history.AddRange(state["history"]!.ToObject<List<EpochRecord>>()!);
            using (var reader = CheckpointFormats.Open(WeightsPath(startEpoch))) ModelIO.LoadTensors(model.Module, reader, strict: true);
            optimizer.load_state_dict(OptimizerPath(startEpoch));
            log.Info($"train: resuming after epoch {startEpoch} of {settings.Epochs}");
        }
        for (int epoch = startEpoch; epoch < settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.Module.train();
            double lossSum = 0;
            long batches = 0;
            // Everything random in an epoch derives from (seed, epoch) alone, so that a run resumed in a new process
            // replays it exactly (HashCode.Combine would not do: it is salted per process).
            int epochSeed = EpochSeed(settings.Seed, epoch);
            manual_seed(epochSeed);
            // One task per epoch, its evaluation included: the epoch's summary line is logged before its bar finishes.
            using (var task = progress.Start($"train: epoch {epoch + 1}/{settings.Epochs}", stepsPerEpoch + 1))
            {
                foreach (var batch in data.Train.Batches(settings.BatchSize, shuffle: true, seed: epochSeed))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    using var b = batch;
                    double lr = settings.Schedule().At(step, totalSteps);
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                    optimizer.zero_grad();
                    var logits = model.Forward(b.Input.to(device));
                    var loss = TaskLoss.Of(logits, b.Target!.to(device), data.Info.Kind);
                    loss.backward();
                    if (settings.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, settings.GradientClip);
                    optimizer.step();
                    double l = loss.item<float>();
                    if (!double.IsFinite(l)) throw new CompressException(ErrorKind.PluginFailed, $"train: the loss became {l} at step {step + 1} (lower --learning-rate?)");
                    lossSum += l;
                    batches++;
                    step++;
                    task.Advance(1, $"loss {l:F4}");
                }
                var (evalLoss, acc, ppl) = TaskLoss.Evaluate(model, data.Evaluation, data.Info.Kind, Math.Max(settings.BatchSize, 64), device);
                task.Advance(1, "evaluated");
                var record = new EpochRecord(epoch + 1, lossSum / Math.Max(1, batches), evalLoss, acc, ppl, Math.Round(clock.Elapsed.TotalSeconds, 2));
                history.Add(record);
                log.Info($"train: epoch {record.Epoch}/{settings.Epochs} train loss {record.TrainLoss:F4}, eval loss {evalLoss:F4}"
                         + (acc is { } a ? $", accuracy {a:P2}" : "") + (ppl is { } p ? $", perplexity {p:F2}" : "") + $" ({record.Seconds:F1} s)");
                SaveState(optimizer, epoch + 1, step, history);
            }
        }
        return history;
    }

    /// <summary>The seed of epoch <paramref name="epoch"/> (data order and torch's generator): a fixed mix of the run's
    /// seed and the epoch, the same in every process.</summary>
    internal static int EpochSeed(int seed, int epoch) => (int)(unchecked((uint)seed * 2654435761u + (uint)epoch * 40503u + 1u) & int.MaxValue);

    /// <summary>Writes the epoch's weights and optimizer state under names of their own, then the state file that
    /// points at them (the commit: a kill before it leaves the previous epoch's state whole, with its own files), then
    /// removes the previous epoch's files.</summary>
    private void SaveState(TorchSharp.Modules.OptimizerHelper optimizer, int epochsDone, long step, List<EpochRecord> history)
    {
        SafetensorsWriter.Write(WeightsPath(epochsDone), model.NamedTensors().Select(t => (t.Name, t.Tensor.detach())));
        string tmp = OptimizerPath(epochsDone) + ".tmp";
        optimizer.save_state_dict(tmp);
        File.Move(tmp, OptimizerPath(epochsDone), overwrite: true);
        var state = new JObject { ["epochsDone"] = epochsDone, ["step"] = step, ["history"] = JArray.FromObject(history) };
        AtomicFile.WriteAllText(StatePath, state.ToString());
        File.Delete(WeightsPath(epochsDone - 1));
        File.Delete(OptimizerPath(epochsDone - 1));
    }
}
