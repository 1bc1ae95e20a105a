using Compressor.Engine.Evaluation;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>The keep metric measured in process with TorchSharp on the first samples of the evaluation split, against
/// the uncompressed model's outputs on the same batches (computed once). It mirrors what ONNX Runtime's evaluation
/// computes (rows of the first output's last axis: cosine, top-1 agreement, KL of the softmaxes; accuracy and
/// perplexity against the targets), so that thousands of trials cost one forward pass each instead of an export and
/// an ORT session. The exported ONNX reproduces the TorchSharp forward (the verification gate's parity), so both agree
/// up to that parity; the final candidates are still measured on ONNX Runtime.
/// <para>Besides the metric it gives an additive <b>damage</b> (the quantity the allocation adds over layers, smaller
/// is better): 1 − cosine for <c>cosine</c>; ln(perplexity / reference perplexity) for <c>perplexity</c>; the mean KL
/// divergence of the softmaxes (nats) for accuracy, top-1 agreement and KL — accuracy itself moves in steps of one
/// sample, too coarse to rank layers.</para></summary>
public sealed class InProcessEvaluator : IDisposable
{
    private readonly List<(Tensor Input, Tensor? Target, Tensor Reference)> _batches = [];
    private readonly KeepSpec _keep;

    /// <summary>Runs <paramref name="reference"/> once over the first <paramref name="samples"/> samples of <paramref name="data"/>.</summary>
    public InProcessEvaluator(CompressibleModel reference, IDataSet data, long samples, KeepSpec keep, Device device, int batchSize = 32)
    {
        _keep = keep;
        long taken = 0;
        using var noGrad = no_grad();
        foreach (var batch in data.Batches(batchSize))
        {
            using (batch)
            {
                if (taken >= samples) break;
                long n = Math.Min(batch.Input.shape[0], samples - taken);
                var input = batch.Input.narrow(0, 0, n).to(device).clone().DetachFromDisposeScope();
                var target = batch.Target?.narrow(0, 0, n).to(device).to_type(ScalarType.Int64).clone().DetachFromDisposeScope();
                if (target is null && !keep.IsFidelity)
                    throw new CompressException(ErrorKind.InvalidInput, $"--keep {keep.Metric} needs labelled data, and {data.Name} has no targets (keep a fidelity metric: cosine, top1Agreement, klDivergence)");
                Tensor y;
                using (var scope = NewDisposeScope())
                    y = Output(reference, input).to_type(ScalarType.Float32).clone().DetachFromDisposeScope();
                _batches.Add((input, target, y));
                taken += n;
            }
        }
        if (taken == 0) throw new CompressException(ErrorKind.InvalidInput, $"data set {data.Name} is empty");
        Samples = taken;
        (ReferenceMetric, _) = Measure(reference);
        if (keep.Metric == EvaluationMetricNames.Perplexity) _referenceLogPerplexity = Math.Log(ReferenceMetric);
    }

    /// <summary>Samples evaluated.</summary>
    public long Samples { get; }

    /// <summary>The reference model's value of the metric on these samples (1 for cosine and agreement, 0 for KL).</summary>
    public double ReferenceMetric { get; }

    /// <summary>The metric and the damage of <paramref name="model"/> (see the class summary).</summary>
    public (double Metric, double Damage) Measure(CompressibleModel model)
    {
        double cos = 0, kl = 0, agree = 0, correct = 0, ce = 0;
        long rows = 0, targets = 0;
        using var noGrad = no_grad();
        foreach (var (input, target, reference) in _batches)
        {
            using var scope = NewDisposeScope();
            var y = Output(model, input).to_type(ScalarType.Float32);
            long width = y.shape[^1];
            var yr = y.reshape(-1, width);
            var rr = reference.reshape(-1, width);
            var dot = (yr * rr).sum(1);
            var ny = yr.norm(1, keepdim: false);
            var nr = rr.norm(1, keepdim: false);
            var both = (ny * nr);
            // A zero vector matches only a zero vector (as ONNX Runtime's evaluation counts it).
            var c = where(both > 0, dot / both.clamp_min(1e-30), where((ny == 0) & (nr == 0), ones_like(dot), zeros_like(dot)));
            cos += c.sum().to_type(ScalarType.Float64).item<double>();
            var logP = nn.functional.log_softmax(rr.to_type(ScalarType.Float64), 1);
            var logQ = nn.functional.log_softmax(yr.to_type(ScalarType.Float64), 1);
            kl += (logP.exp() * (logP - logQ)).sum(1).clamp_min(0).sum().to_type(ScalarType.Float64).item<double>();
            agree += (yr.argmax(1) == rr.argmax(1)).sum().to_type(ScalarType.Float64).item<double>();
            rows += yr.shape[0];
            if (target is not null)
            {
                var t = target.reshape(-1);
                if (t.shape[0] == yr.shape[0])
                {
                    correct += (yr.argmax(1) == t).sum().to_type(ScalarType.Float64).item<double>();
                    ce += nn.functional.cross_entropy(yr.to_type(ScalarType.Float64), t, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
                    targets += t.shape[0];
                }
            }
        }
        double meanCos = cos / Math.Max(1, rows), meanKl = kl / Math.Max(1, rows);
        switch (_keep.Metric)
        {
            case EvaluationMetricNames.Cosine: return (meanCos, 1 - meanCos);
            case EvaluationMetricNames.Top1Agreement: return (agree / Math.Max(1, rows), meanKl);
            case EvaluationMetricNames.KlDivergence: return (meanKl, meanKl);
            case EvaluationMetricNames.Accuracy:
                RequireTargets(targets);
                return (correct / targets, meanKl);
            default:
                RequireTargets(targets);
                double ppl = Math.Exp(ce / targets);
                return (ppl, _referenceLogPerplexity is { } r ? Math.Log(ppl) - r : 0);
        }
    }

    private double? _referenceLogPerplexity;

    private void RequireTargets(long targets)
    {
        if (targets == 0) throw new CompressException(ErrorKind.InvalidInput, $"--keep {_keep.Metric}: the model's outputs do not line up with the data's targets");
    }

    /// <summary>The model's first output for a batch of data inputs (a new tensor in the caller's scope).</summary>
    public static Tensor Output(CompressibleModel model, Tensor input)
    {
        var outputs = model.Run(model.Feed(input));
        var first = outputs[model.OutputNames[0]];
        foreach (var (name, t) in outputs)
            if (!ReferenceEquals(t, first)) t.Dispose();
        return first;
    }

    /// <summary>The batches (inputs and targets) the metric is measured on, for estimators that need the same data.</summary>
    public IEnumerable<(Tensor Input, Tensor? Target, Tensor Reference)> Batches => _batches;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (i, t, r) in _batches) { i.Dispose(); t?.Dispose(); r.Dispose(); }
        _batches.Clear();
    }
}
