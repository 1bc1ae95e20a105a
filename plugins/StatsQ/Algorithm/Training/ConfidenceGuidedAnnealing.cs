using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Confidence-guided annealing (OFQ cga.py; README "Confidence-guided annealing (CGA)"). The confidence of a
/// weight is the distance of its pre-rounding value v = clamp(W/s, −1, 1 − 1e−6)·n − 0.5 to the nearest decision
/// threshold i + 0.5, with i restricted to [min round(v), max round(v) − 1] over the tensor. Weights farther than the
/// boundary range BR from every such threshold are frozen for the step: their gradient is zeroed before the optimizer
/// step and their value restored bit-exactly after it (AdamW's momentum and weight decay would otherwise still move
/// them). The mask is recomputed at every step from the current weights.</summary>
public static class ConfidenceGuidedAnnealing
{
    /// <summary>The reference default boundary range.</summary>
    public const double DefaultBoundary = 0.005;

    /// <summary>True where the weight is frozen (confident), from its pre-rounding values <paramref name="v"/>.</summary>
    public static Tensor FreezeMask(Tensor v, double boundary)
    {
        using var scope = NewDisposeScope();
        var rounded = v.round();
        double lo = rounded.min().item<float>(), hi = rounded.max().item<float>() - 1;
        // Nearest threshold index: thresholds at i + 0.5, so i = round(v − 0.5), clamped to the allowed range.
        var i = v.sub(0.5).round().clamp(lo, Math.Max(lo, hi));
        var distance = v.sub(i.add(0.5)).abs();
        var lowConfidence = distance.le(boundary);
        if (hi < lo) lowConfidence = zeros_like(lowConfidence);  // a single level: no threshold inside the range
        return lowConfidence.logical_not().MoveToOuterDisposeScope();
    }

    /// <summary>Zeroes the gradient of frozen entries and returns a copy of the weights to restore after the step.</summary>
    public static Tensor BeforeStep(TorchSharp.Modules.Parameter weight, Tensor freeze)
    {
        using var noGrad = no_grad();
        if (weight.grad is { } g) g.masked_fill_(freeze, 0);
        return weight.detach().clone();
    }

    /// <summary>Restores frozen entries to their saved values after the optimizer step (bit-exact).</summary>
    public static void AfterStep(TorchSharp.Modules.Parameter weight, Tensor freeze, Tensor saved)
    {
        using var noGrad = no_grad();
        using var restored = where(freeze, saved, weight);
        weight.copy_(restored);
    }
}
