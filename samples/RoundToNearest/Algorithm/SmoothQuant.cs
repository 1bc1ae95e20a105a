using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>SmoothQuant's difficulty migration (README, "SmoothQuant"): for the linear layers that read one
/// activation X, per input channel j, s_j = max|X_j|^α / max|W_j|^(1−α) (clamped to ≥ 1e−5, as the reference code
/// does), with max|W_j| over the rows of all of them; X/s is folded into the operator that produces X
/// (<see cref="CompressibleModel.FoldInputScale"/>) and W·diag(s) into each layer, so the model computes the same
/// function with activation outliers moved into the weights.</summary>
internal static class SmoothQuant
{
    /// <summary>The migration factors for activation channel maxima <paramref name="activationMax"/> [C] and the
    /// layers' weights (each [out, C]).</summary>
    public static Tensor Factors(Tensor activationMax, IEnumerable<Tensor> weights, double alpha)
    {
        using var scope = NewDisposeScope();
        var wmax = stack(weights.Select(w => w.detach().abs().amax([0L])).ToList()).amax([0L]);
        var s = activationMax.clamp_min(1e-5).pow(alpha).div(wmax.clamp_min(1e-5).pow(1 - alpha)).clamp_min(1e-5);
        return s.MoveToOuterDisposeScope();
    }

    /// <summary>Multiplies the weight columns of <paramref name="linear"/> by <paramref name="s"/>.</summary>
    public static void ScaleColumns(TorchSharp.Modules.Linear linear, Tensor s)
    {
        using var noGrad = no_grad();
        using var scaled = linear.weight!.mul(s.to(linear.weight!.device).unsqueeze(0));
        linear.weight!.copy_(scaled);
    }
}
