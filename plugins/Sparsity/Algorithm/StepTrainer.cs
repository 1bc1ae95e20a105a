using System.Globalization;
using System.Text.Json;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>A fixed number of AdamW steps on a loss of one batch (task loss from scratch, distillation loss in
/// recovery), 10% linear warm-up then cosine to 1% of the peak rate, gradient clip 1.0, with a checkpoint of the
/// whole model state, the optimizer state and the loss history in the resume store every few steps: a killed run
/// resumes at its last checkpoint and, with the same data and seed, ends with the same weights as an uninterrupted
/// one (the data order of each pass depends only on (seed, pass), and SGT's Bernoulli draws only on (seed, step)).</summary>
/// <param name="model">The model being trained.</param>
/// <param name="parameters">The parameters the optimizer updates.</param>
/// <param name="loss">The scalar loss of one batch.</param>
/// <param name="data">Training batches.</param>
/// <param name="settings">Steps, rate, batch size, checkpoint interval, weight decay and seed.</param>
/// <param name="resume">Where the resumable state lives (a section named <paramref name="tag"/>).</param>
/// <param name="tag">The phase (e.g. <c>recovery</c>), which names its state.</param>
public sealed class StepTrainer(CompressibleModel model, IReadOnlyList<TorchSharp.Modules.Parameter> parameters, Func<DataBatch, Tensor> loss,
    IDataSet data, StepTrainer.Settings settings, IResumeStore resume, string tag)
{
    /// <summary>Hyper-parameters of a <see cref="StepTrainer"/> run.</summary>
    /// <param name="Steps">Optimizer steps.</param>
    /// <param name="LearningRate">Peak learning rate.</param>
    /// <param name="BatchSize">Samples per step.</param>
    /// <param name="CheckpointEvery">Steps between checkpoints.</param>
    /// <param name="WeightDecay">AdamW decoupled weight decay.</param>
    /// <param name="Seed">Data order seed.</param>
    public sealed record Settings(int Steps, double LearningRate, int BatchSize, int CheckpointEvery, double WeightDecay, int Seed);

    private const string StateKey = "last";

    /// <summary>What a resumed run restores besides the model's tensors and the optimizer.</summary>
    private sealed record SavedState(int Step, List<double> Losses);

    private readonly IResumeStore _store = resume.Section(tag, $"{settings}|{parameters.Count} parameter tensors|{data.Name}:{data.Count}");

    /// <summary>The loss of every step done so far (resumed runs include the earlier steps).</summary>
    public List<double> Losses { get; } = [];

    /// <summary>Trains until <see cref="Settings.Steps"/> (or, for tests, until <paramref name="stopAfter"/> steps are done).</summary>
    public IReadOnlyList<double> Run(IProgressReporter progress, IPluginLogger log, CancellationToken cancellation, int? stopAfter = null)
    {
        var optimizer = optim.AdamW(parameters, settings.LearningRate, 0.9, 0.999, 1e-8, settings.WeightDecay);
        var schedule = new LearningRateSchedule(settings.LearningRate, WarmupFraction: 0.1, MinRateRatio: 0.01);
        int step = 0;
        using (var saved = _store.Load(StateKey, optimizer))
        {
            if (saved is not null && JsonSerializer.Deserialize<SavedState>(saved.State) is { } state)
            {
                step = state.Step;
                Losses.AddRange(state.Losses);
                using (no_grad())
                    foreach (var (name, t) in model.NamedTensors()) t.copy_(saved.Tensors[name]);
                log.Info($"sparsity: {tag} resumes at step {step} of {settings.Steps}");
            }
        }
        long perPass = Math.Max(1, data.Count / settings.BatchSize);
        using var task = progress.Start($"sparsity: {tag}", settings.Steps);
        task.Advance(step, "resumed");
        model.Module.train();
        try
        {
            while (step < settings.Steps && (stopAfter is null || step < stopAfter))
            {
                int pass = (int)(step / perPass);
                long skip = step % perPass;
                foreach (var batch in data.Batches(settings.BatchSize, shuffle: true, seed: (settings.Seed * 7919 + pass) & int.MaxValue).Skip((int)skip).Take((int)(perPass - skip)))
                {
                    using var b = batch;
                    if (step >= settings.Steps || (stopAfter is not null && step >= stopAfter)) break;
                    if (b.Input.shape[0] < settings.BatchSize && data.Count >= settings.BatchSize) continue;
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = schedule.At(step, settings.Steps);
                    optimizer.zero_grad();
                    var l = loss(b);
                    l.backward();
                    nn.utils.clip_grad_norm_(parameters, 1.0);
                    optimizer.step();
                    double value = l.item<float>();
                    if (!double.IsFinite(value))
                        throw new CompressException(ErrorKind.PluginFailed, $"sparsity: the {tag} loss became {value} at step {step + 1} (lower --learning-rate?)");
                    Losses.Add(value);
                    step++;
                    task.Advance(1, $"loss {value:G4}");
                    if (step % settings.CheckpointEvery == 0 || step == settings.Steps) Save(optimizer, step);
                }
            }
        }
        finally
        {
            model.Module.eval();
        }
        return Losses;
    }

    private void Save(TorchSharp.Modules.AdamW optimizer, int step)
    {
        var state = new SavedState(step, Losses.Select(x => Math.Round(x, 6)).ToList());
        _store.Save(StateKey, JsonSerializer.Serialize(state), model.NamedTensors(), optimizer);
    }

    /// <summary>Loss spikes: steps whose loss exceeds 1.5× the median of the previous <paramref name="window"/> steps.</summary>
    public static int CountSpikes(IReadOnlyList<double> losses, int window = 50)
    {
        int spikes = 0;
        for (int i = window; i < losses.Count; i++)
        {
            var prev = losses.Skip(i - window).Take(window).Order().ToList();
            if (losses[i] > 1.5 * prev[window / 2]) spikes++;
        }
        return spikes;
    }

    /// <summary>Formats a number for logs.</summary>
    internal static string F(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
}
