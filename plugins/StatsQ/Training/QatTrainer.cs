using System.Diagnostics;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Training;

/// <summary>The OFQ training procedure (ALGORITHMS.md §1.1, §1.6, §1.8): one no-grad batch creates every LSQ scale
/// before the optimizer exists; QAT with AdamW, warm-up + cosine to the final learning rate and (optionally)
/// distillation from the FP teacher — CE(labels) + soft-CE(teacher softmax), equal weights; then CGA at the constant
/// final learning rate, freezing confident weights of the managed tensors at every step. The integer code of every
/// quantized weight is tracked at every step, and the oscillation metrics (M1–M4) and curves go to the report.</summary>
public sealed class QatTrainer(CompressibleModel student, CompressibleModel? teacher, IReadOnlyList<QuantizedTensor> tensors, StatsQOptions options,
    IDataSet train, IDataSet evaluation, DataKind kind, Device device, IProgressReporter progress, IPluginLogger log, ReportBuilder report)
{
    private readonly Dictionary<string, OscillationTracker> _trackers = tensors.ToDictionary(t => t.Name, _ => new OscillationTracker());
    private readonly Dictionary<string, Queue<Tensor>> _scaleHistory = tensors.ToDictionary(t => t.Name, _ => new Queue<Tensor>());
    private readonly List<double> _steps = [], _loss = [], _events = [], _cgaSteps = [], _unfrozen = [];

    /// <summary>Held-out accuracy after each QAT/CGA epoch.</summary>
    public List<double> EpochAccuracy { get; } = [];

    /// <summary>Mean training loss of each QAT epoch.</summary>
    public List<double> EpochLoss { get; } = [];

    /// <summary>Runs QAT then CGA; returns the final held-out accuracy (TorchSharp).</summary>
    public double Run(CancellationToken cancellation)
    {
        if (kind != DataKind.Images) throw new CompressException(ErrorKind.InvalidOptions, "statsq: QAT needs labelled image data (--data digits or idx:DIR)");
        // Create every lazily initialised LSQ scale from one batch, before the optimizer (the reference's setup_alpha).
        using (var first = train.Batches(options.BatchSize).First())
        using (no_grad()) student.Forward(first.Input.to(device)).Dispose();
        var parameters = student.Module.parameters().Where(p => p.requires_grad).ToList();
        var optimizer = optim.AdamW(parameters, options.Lr, 0.9, 0.999, 1e-8, options.WeightDecay);
        long stepsPerEpoch = (train.Count + options.BatchSize - 1) / options.BatchSize;
        var schedule = new TrainingSettings(options.Epochs, options.Lr, options.BatchSize, options.WeightDecay, WarmupFraction: 0.05,
            MinLearningRateRatio: options.MinLr / options.Lr, GradientClip: 0);
        long step = 0, total = stepsPerEpoch * options.Epochs;
        foreach (var t in tensors) using (var c = t.Codes()) _trackers[t.Name].Update(c);
        teacher?.Module.eval();

        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            double lossSum = 0;
            long batches = 0;
            using (var task = progress.Start($"statsq: QAT epoch {epoch + 1}/{options.Epochs}", stepsPerEpoch))
            {
                foreach (var batch in train.Batches(options.BatchSize, shuffle: true, seed: HashCode.Combine(17, epoch) & int.MaxValue))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var b = batch;
                    double lr = schedule.LearningRateAt(step, total);
                    double loss = Step(optimizer, b, lr, cga: false);
                    lossSum += loss;
                    batches++;
                    step++;
                    task.Advance(1, $"loss {loss:F4}");
                }
            }
            EpochLoss.Add(lossSum / Math.Max(1, batches));
            EpochAccuracy.Add(Evaluate());
            log.Info($"statsq: QAT epoch {epoch + 1}/{options.Epochs}: held-out accuracy {EpochAccuracy[^1]:P2}");
        }
        ReportOscillations("qat");

        if (options.Cga && options.CgaEpochs > 0)
        {
            foreach (var t in tensors) _trackers[t.Name].Dispose();
            foreach (var t in tensors) { _trackers[t.Name] = new OscillationTracker(); using var c = t.Codes(); _trackers[t.Name].Update(c); }
            for (int epoch = 0; epoch < options.CgaEpochs; epoch++)
            {
                using var task = progress.Start($"statsq: CGA epoch {epoch + 1}/{options.CgaEpochs}", stepsPerEpoch);
                foreach (var batch in train.Batches(options.BatchSize, shuffle: true, seed: HashCode.Combine(29, epoch) & int.MaxValue))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var b = batch;
                    Step(optimizer, b, options.MinLr, cga: true);
                    step++;
                    task.Advance(1, $"unfrozen {_unfrozen[^1]:N0}");
                }
                EpochAccuracy.Add(Evaluate());
                log.Info($"statsq: CGA epoch {epoch + 1}/{options.CgaEpochs}: held-out accuracy {EpochAccuracy[^1]:P2}, unfrozen weights {_unfrozen[^1]:N0}");
            }
            ReportOscillations("cga");
            report.AddSeries(new Series("cga/unfrozen", _cgaSteps, _unfrozen, "step", "unfrozen weights"));
            report.AddMetric(new Metric("cgaUnfrozenAtEnd", _unfrozen[^1], "weights"));
        }
        report.AddSeries(new Series("qat/loss", _steps, _loss, "step", "training loss"));
        report.AddSeries(new Series("qat/oscillationEvents", _steps, _events, "step", "code reversals per step"));
        report.AddSeries(new Series("qat/heldOutAccuracy", EpochAccuracy.Select((_, i) => (double)(i + 1)).ToList(), EpochAccuracy, "epoch", "accuracy"));
        foreach (var t in _trackers.Values) t.Dispose();
        foreach (var q in _scaleHistory.Values) foreach (var s in q) s.Dispose();
        return EpochAccuracy.Count > 0 ? EpochAccuracy[^1] : Evaluate();
    }

    private double Step(TorchSharp.Modules.AdamW optimizer, DataBatch b, double lr, bool cga)
    {
        using var scope = NewDisposeScope();
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
        optimizer.zero_grad();
        var x = b.Input.to(device);
        var y = b.Target!.to(device);
        var logits = student.Forward(x);
        var loss = nn.functional.cross_entropy(logits, y);
        if (teacher is not null)
        {
            Tensor soft;
            using (no_grad()) soft = teacher.Forward(x).softmax(-1);
            loss = loss.add(soft.neg().mul(logits.log_softmax(-1)).sum(-1).mean());
        }
        loss.backward();
        var saved = new List<(TorchSharp.Modules.Parameter W, Tensor Freeze, Tensor Saved)>();
        if (cga)
        {
            long unfrozen = 0;
            foreach (var t in tensors)
            {
                if (t.Latent is null) continue;
                var v = t.PreRounding!();
                var freeze = ConfidenceGuidedAnnealing.FreezeMask(v, options.CgaBoundary);
                unfrozen += freeze.numel() - freeze.sum().item<long>();
                saved.Add((t.Latent, freeze, ConfidenceGuidedAnnealing.BeforeStep(t.Latent, freeze)));
            }
            _cgaSteps.Add(_steps.Count + _cgaSteps.Count);
            _unfrozen.Add(unfrozen);
        }
        optimizer.step();
        foreach (var (w, freeze, copy) in saved) ConfidenceGuidedAnnealing.AfterStep(w, freeze, copy);
        double l = loss.item<float>();
        if (!double.IsFinite(l)) throw new CompressException(ErrorKind.PluginFailed, $"statsq: the loss became {l} (lower --lr?)");
        long events = 0;
        foreach (var t in tensors)
        {
            var tracker = _trackers[t.Name];
            tracker.Update(t.Codes());
            events += tracker.LastStepEvents;
            var history = _scaleHistory[t.Name];
            history.Enqueue(t.Scale().DetachFromDisposeScope());
            while (history.Count > options.OscillationWindow) history.Dequeue().Dispose();
        }
        if (!cga)
        {
            _steps.Add(_steps.Count);
            _loss.Add(l);
            _events.Add(events);
        }
        return l;
    }

    private double Evaluate() => Evaluation.Run(student, evaluation, DataKind.Images, Math.Max(64, options.BatchSize), device).Accuracy ?? 0;

    private void ReportOscillations(string phase)
    {
        double weights = _trackers.Values.Sum(t => (double)t.Count);
        double Weighted(Func<OscillationTracker, double> f) => _trackers.Values.Sum(t => f(t) * t.Count) / weights;
        double m1a = Weighted(t => t.FractionAboveFrequency(0.005)), m1b = Weighted(t => t.FractionAboveFrequency(0.01));
        double m2 = Weighted(t => t.FractionReversedWithin(options.OscillationWindow)), m3 = Weighted(t => t.EventsPerThousandSteps);
        double m4 = _scaleHistory.Values.Where(q => q.Count > 1).Select(q =>
        {
            using var history = torch.stack(q.ToArray());
            return history.std(0).mean().item<float>() / Math.Max(1e-12, history.abs().mean().item<float>());
        }).DefaultIfEmpty(0).Average();
        report.AddMetric(new Metric($"{phase}.oscillation.emaAbove0.005", m1a, "fraction"));
        report.AddMetric(new Metric($"{phase}.oscillation.emaAbove0.01", m1b, "fraction"));
        report.AddMetric(new Metric($"{phase}.oscillation.reversedInWindow", m2, "fraction"));
        report.AddMetric(new Metric($"{phase}.oscillation.reversalsPer1000Steps", m3, "per weight"));
        report.AddMetric(new Metric($"{phase}.scaleRelativeStd", m4, "relative"));
        log.Info($"statsq: {phase} oscillations — EMA>0.005 {m1a:P2}, EMA>0.01 {m1b:P2}, reversed in last {options.OscillationWindow} steps {m2:P2}, " +
                 $"{m3:F2} reversals/weight/1000 steps, scale relative std {m4:G3}");
    }
}
