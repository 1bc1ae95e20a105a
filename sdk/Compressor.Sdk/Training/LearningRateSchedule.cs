namespace Compressor.Sdk.Training;

/// <summary>A linear warm-up to the peak rate over the first <see cref="WarmupFraction"/> of the steps, then a cosine
/// decay to <see cref="MinRateRatio"/> of the peak at the last step — the schedule of timm and of the papers' recipes.</summary>
/// <param name="PeakRate">The peak learning rate.</param>
/// <param name="WarmupFraction">Share of the steps spent warming up (0 for none).</param>
/// <param name="MinRateRatio">The final rate as a fraction of the peak.</param>
public sealed record LearningRateSchedule(double PeakRate, double WarmupFraction = 0.05, double MinRateRatio = 0.01)
{
    /// <summary>The rate at <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public double At(long step, long totalSteps)
    {
        long warmup = (long)Math.Round(WarmupFraction * totalSteps);
        if (step < warmup) return PeakRate * (step + 1) / warmup;
        double progress = totalSteps - warmup <= 1 ? 1 : (double)(step - warmup) / (totalSteps - warmup - 1);
        double min = PeakRate * MinRateRatio;
        return min + (PeakRate - min) * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
    }
}
