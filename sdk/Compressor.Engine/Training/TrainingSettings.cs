using Compressor.Sdk.Training;

namespace Compressor.Engine.Training;

/// <summary>Hyper-parameters of <see cref="Trainer"/>: AdamW (β = 0.9, 0.999) with a linear warm-up then a cosine
/// decay of the learning rate to <see cref="MinLearningRateRatio"/> × <see cref="LearningRate"/>, per step.</summary>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="BatchSize">Samples per step.</param>
/// <param name="WeightDecay">AdamW decoupled weight decay.</param>
/// <param name="WarmupFraction">Share of all steps spent warming up linearly from 0.</param>
/// <param name="MinLearningRateRatio">Final learning rate as a fraction of the peak.</param>
/// <param name="GradientClip">Global gradient-norm clip (0: none).</param>
/// <param name="Seed">Fixes the data order of every epoch.</param>
public sealed record TrainingSettings(int Epochs, double LearningRate, int BatchSize, double WeightDecay = 0.05, double WarmupFraction = 0.05,
    double MinLearningRateRatio = 0.01, double GradientClip = 1.0, int Seed = 0)
{
    /// <summary>The learning-rate schedule of these settings (warm-up, then cosine to the minimum).</summary>
    public LearningRateSchedule Schedule() => new(LearningRate, WarmupFraction, MinLearningRateRatio);
}
