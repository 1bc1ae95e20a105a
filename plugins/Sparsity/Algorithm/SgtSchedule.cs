namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The self-guided-training weight α_t (README "Self-guided training"): α = ½(1 + cos(π t / S_g)) for t ≤ S_g
/// and 0 afterwards, so α goes from 1 (all guide) to 0 (all structured) over the first S_g steps.</summary>
public static class SgtSchedule
{
    /// <summary>α at step <paramref name="step"/> of a guided phase of <paramref name="guidedSteps"/> steps (0 steps: always 0).</summary>
    public static double Alpha(long step, long guidedSteps)
    {
        if (guidedSteps <= 0 || step >= guidedSteps) return 0;
        return 0.5 * (1 + Math.Cos(Math.PI * Math.Max(0, step) / guidedSteps));
    }
}
