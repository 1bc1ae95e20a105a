using Compressor.Engine.Evaluation;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>The diagonal of the Fisher information of each searched layer's weight, from the evaluator's samples, for a
/// second-order estimate of a treatment's damage without evaluating it: ΔD ≈ ½ Σᵢ Fᵢᵢ (ŵᵢ − wᵢ)², where ŵ is the
/// treated layer's dense weight. This is the quadratic term of HAWQ's sensitivity (Dong et al., HAWQ-V2, NeurIPS 2020,
/// which uses the Hessian's trace times the squared quantization error); the Fisher is the Hessian of the expected
/// damage at the unmodified weights (its gradient is zero there), and its diagonal, unlike the trace, weighs each
/// weight's own error.
/// <list type="bullet">
/// <item>Damage = KL of the softmaxes (accuracy, agreement, KL, perplexity): per sample, labels are drawn from the model's
/// own softmax (the true Fisher, not the empirical one), g = ∇ Σ_rows −log p(y_row); F = E[g²] / rows. Cross-row terms
/// vanish in expectation because the draws are independent.</item>
/// <item>Damage = 1 − cosine: the Gauss–Newton matrix of ½‖Δy⊥‖²/‖y‖² per row, estimated with one Gaussian probe per row:
/// g = ∇ Σ_rows vᵀy / ‖y‖ with v ~ N(0, I), E[g²] = diag(Jᵀ J / ‖y‖²) (the parallel part of Δy, which cosine ignores, is
/// counted too: an upper estimate).</item>
/// </list>
/// <para>The diagonal alone cannot see what error-compensating quantizers (GPTQ) do: they move error between the
/// weights of a row into directions the layer's inputs hardly excite, which raises Σ (ŵ − w)² while lowering the
/// output error. So for a linear layer the Fisher is taken in its Kronecker-factored form (K-FAC, Martens &amp; Grosse,
/// ICML 2015), F ≈ A ⊗ B with A = E[x xᵀ] the input rows' Gram matrix (measured in the same pass) and B the output
/// factor, kept diagonal and fitted to the measured Fisher diagonal (Fᵢⱼ ≈ Bᵢᵢ Aⱼⱼ, so Bᵢᵢ = Σⱼ Fᵢⱼ / tr A):
/// ΔD ≈ ½ Σᵢ Bᵢᵢ Δwᵢ A Δwᵢᵀ over the rows Δwᵢ of ŵ − w. When A is diagonal this is the diagonal estimate again; conv
/// layers use the diagonal.</para>
/// One backward pass per sample (the expectation is over samples, so samples are not batched together).</summary>
public static class FisherInformation
{
    /// <summary>Fisher diagonals of <paramref name="layers"/>' weights and, for linear layers, their input Gram matrices
    /// (CPU float32 tensors the caller disposes), over at most <paramref name="samples"/> samples of <paramref name="evaluator"/>.</summary>
    public static Dictionary<string, LayerFisher> Diagonals(CompressibleModel pristine, IReadOnlyList<SearchLayer> layers, InProcessEvaluator evaluator,
        KeepSpec keep, int samples, int seed, CancellationToken cancellation, Action<int>? advance = null)
    {
        using var model = pristine.FrozenCopy();
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var grams = new Dictionary<string, InputGram>(StringComparer.Ordinal);
        foreach (var l in layers)
        {
            var module = model.GetLayer(l.Name);
            var p = module.named_parameters(recurse: false).First(x => x.name == "weight").parameter;
            p.requires_grad = true;
            weights[l.Name] = p;
            if (module is TorchSharp.Modules.Linear linear)
            {
                var gram = new InputGram(linear);
                model.ReplaceLayer(l.Name, gram, disposeOld: false);
                grams[l.Name] = gram;
            }
        }
        try
        {
            return Pass(model, layers, weights, grams, evaluator, keep, samples, seed, cancellation, advance);
        }
        finally
        {
            foreach (var (name, gram) in grams)
            {
                model.ReplaceLayer(name, gram.Inner, disposeOld: false);
                gram.Dispose();
            }
        }
    }

    private static Dictionary<string, LayerFisher> Pass(CompressibleModel model, IReadOnlyList<SearchLayer> layers, Dictionary<string, Tensor> weights,
        Dictionary<string, InputGram> grams, InProcessEvaluator evaluator, KeepSpec keep, int samples, int seed, CancellationToken cancellation, Action<int>? advance)
    {
        var sums = layers.ToDictionary(l => l.Name, l => zeros(l.Shape, ScalarType.Float32), StringComparer.Ordinal);
        var generator = new Generator((ulong)seed);
        bool cosine = keep.Metric == EvaluationMetricNames.Cosine;
        long rows = 0;
        int done = 0;
        foreach (var (input, _, _) in evaluator.Batches)
        {
            for (long i = 0; i < input.shape[0] && done < samples; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                foreach (var w in weights.Values) w.grad?.zero_();
                var y = InProcessEvaluator.Output(model, input.narrow(0, i, 1)).to_type(ScalarType.Float32);
                var r = y.reshape(-1, y.shape[^1]);
                Tensor objective;
                if (cosine)
                {
                    var v = randn(r.shape, generator: generator, device: r.device) / r.detach().norm(1, keepdim: true).clamp_min(1e-12);
                    objective = (r * v).sum();
                }
                else
                {
                    var p = nn.functional.softmax(r.detach().to_type(ScalarType.Float64), 1);
                    var drawn = multinomial(p, 1, replacement: true, generator: generator).reshape(-1);
                    objective = nn.functional.cross_entropy(r, drawn, reduction: nn.Reduction.Sum);
                }
                objective.backward();
                using (no_grad())
                    foreach (var (name, w) in weights)
                        if (w.grad is { } g) sums[name].add_(g.cpu().square());
                rows += r.shape[0];
                done++;
                advance?.Invoke(1);
            }
            if (done >= samples) break;
        }
        foreach (var s in sums.Values) s.div_(Math.Max(1, rows));
        return sums.ToDictionary(x => x.Key, x => new LayerFisher(x.Value, grams.TryGetValue(x.Key, out var g) ? g.Gram() : null), StringComparer.Ordinal);
    }

    /// <summary>The estimated damage of replacing <paramref name="original"/> by <paramref name="treated"/>: ½ Σᵢ Bᵢᵢ Δwᵢ A Δwᵢᵀ
    /// with the layer's input Gram A, else ½ Σ F (ŵ − w)² (see the class summary).</summary>
    public static double Damage(LayerFisher fisher, Tensor original, Tensor treated)
    {
        using var scope = NewDisposeScope();
        var d = treated.cpu().to_type(ScalarType.Float32) - original.cpu().to_type(ScalarType.Float32);
        if (fisher.InputGram is not { } a)
            return 0.5 * (fisher.Diagonal * d.square()).sum().to_type(ScalarType.Float64).item<double>();
        var d2 = d.reshape(d.shape[0], -1).to_type(ScalarType.Float64);
        var a64 = a.to_type(ScalarType.Float64);
        var b = fisher.Diagonal.reshape(d.shape[0], -1).to_type(ScalarType.Float64).sum(1) / a64.diagonal().sum().clamp_min(1e-30);
        return 0.5 * (b * (d2.matmul(a64) * d2).sum(1)).sum().item<double>();
    }
}
