using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Joint learning of codebooks, group scales and mappings on one layer's output reconstruction ([RECON]
/// README "Joint learning", the per-layer form). The loss is the mean squared error of the layer's outputs over the
/// calibration inputs X (from the already-compressed prefix) against the FP weight's outputs on the same inputs:
/// L = ‖X(Ŵ − W)ᵀ‖² / (N·O) = tr(E H Eᵀ)/O with E = Ŵ − W and H = XᵀX/N, so only H [I, I] is kept (one layer's
/// calibration statistics in memory). Per iteration g = dL/dŴ = 2EH/O goes to <see cref="CodebookUpdater.Step"/>. The iterate
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
        using var scope = NewDisposeScope();
        using var updater = new CodebookUpdater(cb, indexLr, codebookLr, kind);
        var w = weight.detach().to_type(ScalarType.Float32);
        long rows = w.shape[0];
        double initial = double.NaN, best = double.PositiveInfinity;
        var bestState = cb.Snapshot();
        for (int t = 0; ; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var e = cb.Weight().detach().sub(w);
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
            updater.Step(eh.mul(2.0 / rows));
        }
        cb.Restore(bestState);
        DisposeState(bestState);
        return new Result(initial, best, updater.Moves);
    }

    internal static void DisposeState((Tensor Codebooks, Tensor? Scales, Tensor Indices) s)
    {
        s.Codebooks.Dispose(); s.Scales?.Dispose(); s.Indices.Dispose();
    }
}
