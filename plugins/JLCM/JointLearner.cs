using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.JLCM;

/// <summary>Joint learning of codebooks, group scales and mappings on one layer's output reconstruction ([RECON]
/// ALGORITHMS.md §2.5–2.6). The loss is the mean squared error of the layer's outputs over the calibration
/// inputs X (from the already-compressed prefix) against the FP weight's outputs on the same inputs:
/// L = ‖X(Ŵ − W)ᵀ‖² / (N·O) = tr(E H Eᵀ)/O with E = Ŵ − W and H = XᵀX/N, so only H [I, I] is kept (one layer's
/// calibration statistics in memory). Per iteration: g = dL/dŴ = 2EH/O; codebooks and scales get the exact autograd
/// gradient of Ŵ = C[k](·α) and an Adam step; the latent indices get the mapping gradient
/// (<see cref="MappingGradient"/>) and an Adam step whose second moment is taken over the whole tensor, not per
/// element ([RECON]: per-element Adam would divide out the per-weight factor Δ or 1/Δ that distinguishes the two
/// mapping gradients); then k = clamp(round(u), 0, K−1), codebooks are re-sorted, moves are recorded. The iterate
/// with the lowest loss is kept (iteration 0 is the k-means initialisation, so the result never loses to it).</summary>
public static class JointLearner
{
    /// <summary>The outcome of one layer.</summary>
    /// <param name="InitialLoss">Loss of the k-means initialisation.</param>
    /// <param name="FinalLoss">Loss of the kept iterate.</param>
    /// <param name="Moves">Index-move statistics per update.</param>
    public sealed record Result(double InitialLoss, double FinalLoss, IndexMoveStats Moves);

    /// <summary>L = tr(E H Eᵀ)/O for E = <paramref name="approx"/> − <paramref name="weight"/>.</summary>
    public static double Loss(Tensor approx, Tensor weight, Tensor h)
    {
        using var scope = NewDisposeScope();
        var e = approx.detach().sub(weight);
        return e.matmul(h).mul(e).sum().item<float>() / weight.shape[0];
    }

    /// <summary>Learns <paramref name="cb"/> in place for the FP weight <paramref name="weight"/> [O, I] (stored order)
    /// and input statistics <paramref name="h"/> [I, I].</summary>
    public static Result Learn(GroupedCodebook cb, Tensor weight, Tensor h, int iterations, double indexLr, double codebookLr,
        MappingGradientKind kind, CancellationToken cancellation = default)
    {
        var moves = new IndexMoveStats();
        using var scope = NewDisposeScope();
        var w = weight.detach().to_type(ScalarType.Float32);
        var optimisers = new List<optim.Optimizer>
        {
            optim.Adam([cb.Codebooks], lr: codebookLr * Math.Max(1e-12, cb.Codebooks.detach().abs().mean().item<float>())),
        };
        if (cb.Scales is not null)
            optimisers.Add(optim.Adam([cb.Scales], lr: codebookLr * Math.Max(1e-12, cb.Scales.detach().abs().mean().item<float>())));
        try
        {
            return Run(cb, w, h, iterations, indexLr, kind, optimisers, moves, cancellation);
        }
        finally
        {
            // The Adam moments live outside every dispose scope; the optimisers own them.
            foreach (var o in optimisers) o.Dispose();
        }
    }

    private static Result Run(GroupedCodebook cb, Tensor w, Tensor h, int iterations, double indexLr, MappingGradientKind kind,
        List<optim.Optimizer> optimisers, IndexMoveStats moves, CancellationToken cancellation)
    {
        long rows = w.shape[0];
        var m = zeros_like(cb.Latent);
        double v = 0;
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-12;
        double initial = double.NaN, best = double.PositiveInfinity;
        var bestState = cb.Snapshot();
        for (int t = 0; ; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            foreach (var o in optimisers) o.zero_grad();
            var approx = cb.Weight();
            var e = approx.detach().sub(w);
            var eh = e.matmul(h);
            double loss = eh.mul(e).sum().item<float>() / rows;
            if (t == 0) initial = loss;
            if (loss < best)
            {
                best = loss;
                DisposeState(bestState);
                bestState = cb.Snapshot();
            }
            if (t >= iterations || !double.IsFinite(loss)) break;
            var g = eh.mul(2.0 / rows);
            approx.backward([g]);                                  // exact codebook / scale gradients
            var gu = MappingGradient.Compute(g, cb.Indices, cb.RowCodewords().detach(), kind);
            m.mul_(beta1).add_(gu, alpha: 1 - beta1);
            v = beta2 * v + (1 - beta2) * gu.square().mean().item<float>();
            double mScale = 1 / (1 - Math.Pow(beta1, t + 1)), vHat = v / (1 - Math.Pow(beta2, t + 1));
            var latent = cb.Latent.sub(m.mul(indexLr * mScale / (Math.Sqrt(vHat) + eps))).clamp(-0.49, cb.K - 1 + 0.49);
            foreach (var o in optimisers) o.step();
            var indices = latent.round().to_type(ScalarType.Int64).clamp(0, cb.K - 1);
            moves.Record(cb.Indices, indices, cb.K);
            cb.SetIndices(indices.MoveToOuterDisposeScope(), latent.MoveToOuterDisposeScope());
            cb.SortCodebooks();
        }
        cb.Restore(bestState);
        DisposeState(bestState);
        return new Result(initial, best, moves);
    }

    private static void DisposeState((Tensor Codebooks, Tensor? Scales, Tensor Indices) s)
    {
        s.Codebooks.Dispose(); s.Scales?.Dispose(); s.Indices.Dispose();
    }
}
