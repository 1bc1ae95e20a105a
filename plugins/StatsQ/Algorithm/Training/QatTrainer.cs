using System.Diagnostics;
using System.Text.Json;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Training;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>The OFQ training procedure (README "Training"): one no-grad batch creates every LSQ scale
/// before the optimizer exists; QAT with AdamW, warm-up + cosine to the final learning rate and (optionally)
/// distillation from the FP teacher — CE(labels) + soft-CE(teacher softmax), equal weights; then CGA at the constant
/// final learning rate, freezing confident weights of the managed tensors at every step. The integer code of every
/// quantized weight is tracked at every step, and the oscillation metrics (M1–M4) and curves go to the report.
/// <para>Resumable: with a resume store, the end of every epoch (QAT or CGA) writes the student's tensors, the AdamW
/// state, the oscillation trackers, the scale histories and the curves; a later run with the same options, seed and
/// data finds them and continues from there. The data order of an epoch depends only on (seed, phase, epoch) and
/// nothing else is random, so on the same machine and thread count a resumed run ends bit-identical to an
/// uninterrupted one.</para></summary>
public sealed class QatTrainer(CompressibleModel student, CompressibleModel? teacher, IReadOnlyList<QuantizedTensor> tensors, StatsQOptions options,
    IDataSet train, IDataSet evaluation, DataKind kind, Device device, IProgressReporter progress, IPluginLogger log, ReportBuilder report,
    IResumeStore? resume = null, int seed = 0)
{
    private Dictionary<string, OscillationTracker> _trackers = tensors.ToDictionary(t => t.Name, _ => new OscillationTracker());
    private readonly Dictionary<string, Queue<Tensor>> _scaleHistory = tensors.ToDictionary(t => t.Name, _ => new Queue<Tensor>());
    private readonly List<double> _steps = [], _loss = [], _events = [], _cgaSteps = [], _unfrozen = [];
    private readonly List<Metric> _qatMetrics = [];
    private double _stepSeconds;
    private long _timedSteps;

    /// <summary>Held-out accuracy after each QAT/CGA epoch.</summary>
    public List<double> EpochAccuracy { get; } = [];

    /// <summary>Mean training loss of each QAT epoch.</summary>
    public List<double> EpochLoss { get; } = [];

    /// <summary>Epochs (QAT + CGA) this run trained itself, i.e. not restored from the work folder.</summary>
    public int EpochsTrainedHere { get; private set; }

    /// <summary>Mean wall time of one training step (forward, distillation, backward, AdamW, code tracking), seconds.</summary>
    public double MeanStepSeconds => _timedSteps == 0 ? 0 : _stepSeconds / _timedSteps;

    private const string StateKey = "qat";
    private IResumeStore? _state;

    /// <summary>What a resumed run restores besides the tensors and the optimizer (the curves, the phase and step).</summary>
    private sealed record SavedState(int Phase, int EpochsDone, long Step, List<double> EpochLoss, List<double> EpochAccuracy, List<double> Steps,
        List<double> Loss, List<double> Events, List<double> CgaSteps, List<double> Unfrozen, List<SavedMetric> QatMetrics);

    private sealed record SavedMetric(string Name, double Value, string Unit);

    /// <summary>The data order seed of one epoch of one phase (a fixed mix: not <see cref="HashCode"/>, which is
    /// randomised per process).</summary>
    public static int EpochSeed(int seed, int phase, int epoch) => (int)(((uint)seed * 2654435761u) ^ ((uint)phase * 40503u + (uint)epoch * 97u + 12345u)) & int.MaxValue;

    /// <summary>Runs QAT then CGA; returns the final held-out accuracy (TorchSharp).</summary>
    public double Run(CancellationToken cancellation)
    {
        if (kind != DataKind.Images) throw new CompressException(ErrorKind.InvalidOptions, "statsq: QAT needs labelled image data (--data digits or idx:DIR)");
        // Create every lazily initialised LSQ scale from one batch, before the optimizer (the reference's setup_alpha).
        using (var first = train.Batches(options.BatchSize).First())
        using (no_grad())
        using (var scope = NewDisposeScope()) student.Forward(first.Input.to(device));
        var parameters = student.Module.parameters().Where(p => p.requires_grad).ToList();
        using var optimizer = optim.AdamW(parameters, options.LearningRate, 0.9, 0.999, 1e-8, options.WeightDecay);
        try
        {
            return Train(optimizer, cancellation);
        }
        finally
        {
            // The trackers and the scale histories own their tensors; the optimizer (its AdamW state) is disposed by its using.
            foreach (var t in _trackers.Values) t.Dispose();
            foreach (var q in _scaleHistory.Values) { foreach (var s in q) s.Dispose(); q.Clear(); }
        }
    }

    private double Train(TorchSharp.Modules.AdamW optimizer, CancellationToken cancellation)
    {
        long stepsPerEpoch = (train.Count + options.BatchSize - 1) / options.BatchSize;
        var schedule = new LearningRateSchedule(options.LearningRate, WarmupFraction: 0.05, MinRateRatio: options.MinLearningRate / options.LearningRate);
        long step = 0, total = stepsPerEpoch * options.Epochs;
        int cgaEpochs = options.Cga ? options.CgaEpochs : 0;
        foreach (var t in tensors) using (var c = t.Codes()) _trackers[t.Name].Update(c);
        teacher?.Module.eval();
        var (phase, done) = TryResume(optimizer, ref step);

        for (int epoch = phase == 0 ? done : options.Epochs; epoch < options.Epochs; epoch++)
        {
            double lossSum = 0;
            long batches = 0;
            using (var task = progress.Start($"statsq: QAT epoch {epoch + 1}/{options.Epochs}", stepsPerEpoch))
            {
                foreach (var batch in train.Batches(options.BatchSize, shuffle: true, seed: EpochSeed(seed, 0, epoch)))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var b = batch;
                    double lr = schedule.At(step, total);
                    double loss = Step(optimizer, b, lr, cga: false);
                    lossSum += loss;
                    batches++;
                    step++;
                    task.Advance(1, $"loss {loss:F4}");
                }
            }
            EpochLoss.Add(lossSum / Math.Max(1, batches));
            EpochAccuracy.Add(Evaluate());
            EpochsTrainedHere++;
            log.Info($"statsq: QAT epoch {epoch + 1}/{options.Epochs}: loss {EpochLoss[^1]:F4}, held-out accuracy {EpochAccuracy[^1]:P2}");
            if (epoch == options.Epochs - 1) _qatMetrics.AddRange(OscillationMetrics("qat"));
            SaveState(optimizer, 0, epoch + 1, step);
        }
        if (options.Epochs == 0 && _qatMetrics.Count == 0) _qatMetrics.AddRange(OscillationMetrics("qat"));
        foreach (var m in _qatMetrics) report.AddMetric(m);

        if (cgaEpochs > 0)
        {
            if (phase == 0)
            {
                // CGA's oscillation metrics are measured afresh from the start of the phase.
                foreach (var t in tensors) { _trackers[t.Name].Dispose(); _trackers[t.Name] = new OscillationTracker(); using var c = t.Codes(); _trackers[t.Name].Update(c); }
            }
            for (int epoch = phase == 1 ? done : 0; epoch < cgaEpochs; epoch++)
            {
                using (var task = progress.Start($"statsq: CGA epoch {epoch + 1}/{cgaEpochs}", stepsPerEpoch))
                {
                    foreach (var batch in train.Batches(options.BatchSize, shuffle: true, seed: EpochSeed(seed, 1, epoch)))
                    {
                        cancellation.ThrowIfCancellationRequested();
                        using var b = batch;
                        Step(optimizer, b, options.MinLearningRate, cga: true);
                        step++;
                        task.Advance(1, $"unfrozen {_unfrozen[^1]:N0}");
                    }
                }
                EpochAccuracy.Add(Evaluate());
                EpochsTrainedHere++;
                log.Info($"statsq: CGA epoch {epoch + 1}/{cgaEpochs}: held-out accuracy {EpochAccuracy[^1]:P2}, unfrozen weights {_unfrozen[^1]:N0}");
                SaveState(optimizer, 1, epoch + 1, step);
            }
            foreach (var m in OscillationMetrics("cga")) report.AddMetric(m);
            report.AddSeries(new Series("cga/unfrozen", _cgaSteps.ToList(), _unfrozen.ToList(), "step", "unfrozen weights"));
            report.AddMetric(new Metric("cgaUnfrozenAtEnd", _unfrozen.Count > 0 ? _unfrozen[^1] : 0, "weights"));
        }
        report.AddSeries(new Series("qat/loss", _steps.ToList(), _loss.ToList(), "step", "training loss"));
        report.AddSeries(new Series("qat/oscillationEvents", _steps.ToList(), _events.ToList(), "step", "code reversals per step"));
        report.AddSeries(new Series("qat/heldOutAccuracy", EpochAccuracy.Select((_, i) => (double)(i + 1)).ToList(), EpochAccuracy.ToList(), "epoch", "accuracy"));
        if (_timedSteps > 0) report.AddMetric(new Metric("qat.stepSeconds", MeanStepSeconds, "s"));
        return EpochAccuracy.Count > 0 ? EpochAccuracy[^1] : Evaluate();
    }

    private double Step(TorchSharp.Modules.AdamW optimizer, DataBatch b, double lr, bool cga)
    {
        var clock = Stopwatch.StartNew();
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
        if (!double.IsFinite(l)) throw new CompressException(ErrorKind.PluginFailed, $"statsq: the loss became {l} (lower --learning-rate?)");
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
        _stepSeconds += clock.Elapsed.TotalSeconds;
        _timedSteps++;
        return l;
    }

    private double Evaluate() => TaskLoss.Evaluate(student, evaluation, DataKind.Images, Math.Max(64, options.BatchSize), device).Accuracy ?? 0;

    private List<Metric> OscillationMetrics(string phase)
    {
        using var scope = NewDisposeScope();
        double weights = _trackers.Values.Sum(t => (double)t.Count);
        double Weighted(Func<OscillationTracker, double> f) => _trackers.Values.Sum(t => f(t) * t.Count) / Math.Max(1, weights);
        double m1a = Weighted(t => t.FractionAboveFrequency(0.005)), m1b = Weighted(t => t.FractionAboveFrequency(0.01));
        double m2 = Weighted(t => t.FractionReversedWithin(options.OscillationWindow)), m3 = Weighted(t => t.EventsPerThousandSteps);
        double m4 = _scaleHistory.Values.Where(q => q.Count > 1).Select(q =>
        {
            using var history = torch.stack(q.ToArray());
            return history.std(0).mean().item<float>() / Math.Max(1e-12, history.abs().mean().item<float>());
        }).DefaultIfEmpty(0).Average();
        log.Info($"statsq: {phase} oscillations — EMA>0.005 {m1a:P2}, EMA>0.01 {m1b:P2}, reversed in last {options.OscillationWindow} steps {m2:P2}, " +
                 $"{m3:F2} reversals/weight/1000 steps, scale relative std {m4:G3}");
        var metrics = new List<Metric>
        {
            new($"{phase}.oscillation.emaAbove0.005", m1a, "fraction"),
            new($"{phase}.oscillation.emaAbove0.01", m1b, "fraction"),
            new($"{phase}.oscillation.reversedInWindow", m2, "fraction"),
            new($"{phase}.oscillation.reversalsPer1000Steps", m3, "per weight"),
            new($"{phase}.scaleRelativeStd", m4, "relative"),
        };
        // The tensors CGA freezes apart from those it leaves alone (W_qk under QKR, the 8-bit first/last layers): CGA's
        // claim is about the former.
        var managed = tensors.Where(t => t.Latent is not null).Select(t => _trackers[t.Name]).ToList();
        if (phase == "cga" && managed.Count > 0)
        {
            double n = managed.Sum(t => (double)t.Count);
            double mm2 = managed.Sum(t => t.FractionReversedWithin(options.OscillationWindow) * t.Count) / n;
            double mm1 = managed.Sum(t => t.FractionAboveFrequency(0.005) * t.Count) / n;
            log.Info($"statsq: cga-managed tensors — reversed in last {options.OscillationWindow} steps {mm2:P4}, EMA>0.005 {mm1:P4}");
            metrics.Add(new Metric("cga.managed.oscillation.reversedInWindow", mm2, "fraction"));
            metrics.Add(new Metric("cga.managed.oscillation.emaAbove0.005", mm1, "fraction"));
        }
        return metrics;
    }

    /// <summary>What must match for a saved state to be resumed: options, seed, data.</summary>
    private string Fingerprint() => $"{options}|include={string.Join(",", options.Include)}|exclude={string.Join(",", options.Exclude)}|seed={seed}|train={train.Name}:{train.Count}|eval={evaluation.Name}:{evaluation.Count}|tensors={string.Join(",", tensors.Select(t => t.Name))}";

    private void SaveState(TorchSharp.Modules.AdamW optimizer, int phase, int epochsDone, long step)
    {
        if (_state is null) return;
        using var scope = NewDisposeScope();
        var named = student.NamedTensors().Select(t => ("model." + t.Name, t.Tensor.detach())).ToList();
        foreach (var (name, tracker) in _trackers)
            named.AddRange(tracker.State().Select(s => ($"tracker.{name}.{s.Name}", s.Tensor)));
        foreach (var (name, history) in _scaleHistory)
            if (history.Count > 0) named.Add(($"scales.{name}", torch.stack(history.ToArray())));
        var state = new SavedState(phase, epochsDone, step, EpochLoss, EpochAccuracy, _steps, _loss, _events, _cgaSteps, _unfrozen,
            _qatMetrics.Select(m => new SavedMetric(m.Name, m.Value, m.Unit)).ToList());
        _state.Save(StateKey, JsonSerializer.Serialize(state), named, optimizer);
    }

    private (int Phase, int Done) TryResume(TorchSharp.Modules.AdamW optimizer, ref long step)
    {
        _state = resume?.Section("qat", Fingerprint());
        using var entry = _state?.Load(StateKey, optimizer);
        if (entry is null) return (0, 0);
        SavedState? state;
        try { state = JsonSerializer.Deserialize<SavedState>(entry.State); }
        catch (JsonException) { state = null; }
        if (state is null)
        {
            log.Warn("statsq: the saved QAT state is unreadable; starting over");
            return (0, 0);
        }
        var tensorsRead = entry.Tensors;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            foreach (var (name, t) in student.NamedTensors()) t.copy_(tensorsRead["model." + name]);
            foreach (var (name, tracker) in _trackers)
                if (tensorsRead.ContainsKey($"tracker.{name}.previous")) tracker.Restore(n => tensorsRead[$"tracker.{name}.{n}"].to(device));   // the saved state is read on the CPU
            foreach (var (name, history) in _scaleHistory)
            {
                foreach (var s in history) s.Dispose();
                history.Clear();
                if (!tensorsRead.TryGetValue($"scales.{name}", out var stacked)) continue;
                for (long i = 0; i < stacked.shape[0]; i++) history.Enqueue(stacked[i].to(device).clone().DetachFromDisposeScope());
            }
        }
        step = state.Step;
        EpochLoss.AddRange(state.EpochLoss);
        EpochAccuracy.AddRange(state.EpochAccuracy);
        _steps.AddRange(state.Steps);
        _loss.AddRange(state.Loss);
        _events.AddRange(state.Events);
        _cgaSteps.AddRange(state.CgaSteps);
        _unfrozen.AddRange(state.Unfrozen);
        _qatMetrics.AddRange(state.QatMetrics.Select(m => new Metric(m.Name, m.Value, m.Unit)));
        log.Info($"statsq: resuming after {(state.Phase == 0 ? "QAT" : "CGA")} epoch {state.EpochsDone} (step {step})");
        return (state.Phase, state.EpochsDone);
    }
}
