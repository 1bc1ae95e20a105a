using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Layers.Structured;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Training-free activation sparsity (README "Activation sparsity"): each selected linear y = W x keeps, per
/// token, the k inputs of highest score — WINA s_i = |x_i|·‖W[:, i]‖₂, TEAL s_i = |x_i| — and drops the rest. The
/// per-layer sparsities come from TEAL's greedy search on calibration inputs: starting from 0, repeatedly raise the
/// sparsity of the layer whose next increment adds the least relative output error ‖W(x − x_S)‖²/‖Wx‖², with increments
/// inversely proportional to the layer's size (each removes the same number of multiply-adds), until the
/// size-weighted average reaches the target. (Simplification: the error is the layer's own output, not the block
/// output of the paper; WINA's column norms are used for every selected linear, not only k/gate inputs, and the
/// SliceGPT-style rotation is not applied.)</summary>
public static class ActivationSparsifier
{
    /// <summary>The greedy increment of the average-size layer.</summary>
    public const double StepSize = 0.025;

    /// <summary>The per-input score weights: the column norms of <paramref name="weight"/> (WINA), or null for plain |x| (TEAL).</summary>
    public static Tensor? ColumnScale(Tensor weight, bool wina)
    {
        if (!wina) return null;
        using var scope = NewDisposeScope();
        return weight.detach().square().sum([0L]).sqrt().MoveToOuterDisposeScope();
    }

    /// <summary>Relative output error ‖(x − x_S) Wᵀ‖² / ‖x Wᵀ‖² of keeping <paramref name="keep"/> inputs per row.</summary>
    public static double RelativeError(Tensor x, Tensor weight, Tensor? scale, long keep)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[^1];
        var w = weight.detach().to_type(ScalarType.Float32);
        var full = matmul(x, w.t());
        if (keep >= n) return 0;
        var mask = TopKMaskedLinear.Mask(x, scale, keep);
        var dropped = matmul(x.mul(mask.neg().add(1)), w.t());
        double signal = full.square().sum().item<float>();
        return signal == 0 ? 0 : dropped.square().sum().item<float>() / signal;
    }

    /// <summary>Inputs kept per token at <paramref name="sparsity"/> of <paramref name="n"/>.</summary>
    public static long Keep(long n, double sparsity) => Math.Clamp((long)Math.Round((1 - sparsity) * n), 1, n);

    /// <summary>Records up to <paramref name="tokens"/> input rows of every layer in <paramref name="names"/> by running
    /// calibration batches; returns [tokens, N] per layer.</summary>
    public static Dictionary<string, Tensor> RecordInputs(CompressibleModel model, IReadOnlyList<string> names, IDataSet data, int tokens, int batchSize, Device device, CancellationToken cancellation)
    {
        var recorders = new Dictionary<string, InputRecorder>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var layer = (TorchSharp.Modules.Linear)model.GetLayer(name);
            var rec = new InputRecorder(layer, layer.weight!.shape[1], tokens);
            model.ReplaceLayer(name, rec, disposeOld: false);
            recorders[name] = rec;
        }
        try
        {
            model.Module.eval();
            using var noGrad = no_grad();
            foreach (var batch in data.Batches(batchSize))
            {
                using var b = batch;
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                ModelInputs.Forward(model, b.Input.to(device));
                if (recorders.Values.All(r => r.Full)) break;
            }
            return recorders.ToDictionary(kv => kv.Key, kv => kv.Value.Rows(), StringComparer.Ordinal);
        }
        finally
        {
            foreach (var (name, rec) in recorders)
            {
                model.ReplaceLayer(name, rec.Inner, disposeOld: false);
                rec.Dispose();
            }
        }
    }

    /// <summary>Per-layer sparsities whose size-weighted average reaches <paramref name="target"/>: uniform, or greedy.</summary>
    /// <param name="inputs">Calibration inputs [T, N] per layer.</param>
    /// <param name="weights">Weights [M, N] per layer.</param>
    /// <param name="wina">WINA (else TEAL) scores.</param>
    /// <param name="target">Target average sparsity.</param>
    /// <param name="greedy">Greedy search (else uniform).</param>
    public static Dictionary<string, double> Allocate(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> weights, bool wina, double target, bool greedy)
    {
        var names = weights.Keys.ToList();
        if (!greedy || names.Count == 1) return names.ToDictionary(n => n, _ => target, StringComparer.Ordinal);
        var size = names.ToDictionary(n => n, n => (double)weights[n].numel());
        double total = size.Values.Sum(), average = total / names.Count;
        var scale = names.ToDictionary(n => n, n => ColumnScale(weights[n], wina));
        var sparsity = names.ToDictionary(n => n, _ => 0.0, StringComparer.Ordinal);
        var error = names.ToDictionary(n => n, _ => 0.0);
        var next = new Dictionary<string, (double S, double E)>();
        double Step(string n) => StepSize * average / size[n];
        (double, double) Candidate(string n)
        {
            double s = Math.Min(0.99, sparsity[n] + Step(n));
            long n1 = weights[n].shape[1];
            return (s, RelativeError(inputs[n], weights[n], scale[n], Keep(n1, s)));
        }
        foreach (var n in names) next[n] = Candidate(n);
        double Average() => names.Sum(n => sparsity[n] * size[n]) / total;
        while (Average() < target - 1e-9)
        {
            var open = names.Where(n => sparsity[n] < 0.99).ToList();
            if (open.Count == 0) break;
            var best = open.MinBy(n => next[n].E - error[n])!;
            // The last increment only goes as far as the target.
            double needed = (target - Average()) * total / size[best];
            double s = Math.Min(next[best].S, sparsity[best] + needed);
            sparsity[best] = s;
            error[best] = s == next[best].S ? next[best].E : RelativeError(inputs[best], weights[best], scale[best], Keep(weights[best].shape[1], s));
            next[best] = Candidate(best);
        }
        foreach (var t in scale.Values) t?.Dispose();
        return sparsity;
    }
}
