using System.Diagnostics;
using Compressor.Sdk.Checkpoints;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.IO;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Training;

/// <summary>Supervised training of an executable model on image classes or next tokens: AdamW, warm-up + cosine
/// schedule per step, gradient clipping, an evaluation after every epoch, and an epoch checkpoint (model, optimizer
/// state, history) in the work folder so that a killed run resumes where it stopped. With the same seed, data, thread
/// count and machine, a resumed run ends with the same weights as an uninterrupted one: the data order of each epoch
/// depends only on (seed, epoch), and nothing else is random during training.</summary>
public sealed class Trainer(CompressibleModel model, DataSplits data, TrainingSettings settings, Device device,
    IProgressReporter progress, IPluginLogger log, string workDirectory)
{
    private string StatePath => Path.Combine(workDirectory, "train-state.json");
    private string WeightsPath => Path.Combine(workDirectory, "train-weights.safetensors");
    private string OptimizerPath => Path.Combine(workDirectory, "train-optimizer.bin");

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
            var state = JObject.Parse(File.ReadAllText(StatePath));
            startEpoch = (int)state["epochsDone"]!;
            step = (long)state["step"]!;
            history.AddRange(state["history"]!.ToObject<List<EpochRecord>>()!);
            using (var reader = CheckpointFormats.Open(WeightsPath)) ModelIO.LoadTensors(model.Module, reader, strict: true);
            optimizer.load_state_dict(OptimizerPath);
            log.Info($"train: resuming after epoch {startEpoch} of {settings.Epochs}");
        }
        for (int epoch = startEpoch; epoch < settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.Module.train();
            double lossSum = 0;
            long batches = 0;
            using (var task = progress.Start($"train: epoch {epoch + 1}/{settings.Epochs}", stepsPerEpoch))
            {
                foreach (var batch in data.Train.Batches(settings.BatchSize, shuffle: true, seed: HashCode.Combine(settings.Seed, epoch) & int.MaxValue))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    using var b = batch;
                    double lr = settings.LearningRateAt(step, totalSteps);
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                    optimizer.zero_grad();
                    var logits = model.Forward(b.Input.to(device));
                    var loss = Evaluation.Loss(logits, b.Target!.to(device), data.Info.Kind);
                    loss.backward();
                    if (settings.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, settings.GradientClip);
                    optimizer.step();
                    double l = loss.item<float>();
                    if (!double.IsFinite(l)) throw new CompressException(ErrorKind.PluginFailed, $"train: the loss became {l} at step {step + 1} (lower --lr?)");
                    lossSum += l;
                    batches++;
                    step++;
                    task.Advance(1, $"loss {l:F4}");
                }
            }
            var (evalLoss, acc, ppl) = Evaluation.Run(model, data.Evaluation, data.Info.Kind, Math.Max(settings.BatchSize, 64), device);
            var record = new EpochRecord(epoch + 1, lossSum / Math.Max(1, batches), evalLoss, acc, ppl, Math.Round(clock.Elapsed.TotalSeconds, 2));
            history.Add(record);
            log.Info($"train: epoch {record.Epoch}/{settings.Epochs} train loss {record.TrainLoss:F4}, eval loss {evalLoss:F4}"
                     + (acc is { } a ? $", accuracy {a:P2}" : "") + (ppl is { } p ? $", perplexity {p:F2}" : "") + $" ({record.Seconds:F1} s)");
            SaveState(optimizer, epoch + 1, step, history);
        }
        return history;
    }

    private void SaveState(TorchSharp.Modules.OptimizerHelper optimizer, int epochsDone, long step, List<EpochRecord> history)
    {
        SafetensorsWriter.Write(WeightsPath, model.NamedTensors().Select(t => (t.Name, t.Tensor.detach())));
        string tmp = OptimizerPath + ".tmp";
        optimizer.save_state_dict(tmp);
        File.Move(tmp, OptimizerPath, overwrite: true);
        var state = new JObject { ["epochsDone"] = epochsDone, ["step"] = step, ["history"] = JArray.FromObject(history) };
        AtomicFile.WriteAllText(StatePath, state.ToString());
    }
}
