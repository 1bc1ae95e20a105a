namespace Compressor.Host.Results;

/// <summary>train.json's <c>data</c>: the data spec and the sizes of its splits.</summary>
/// <param name="Spec">The <c>--data</c> spec.</param>
/// <param name="Name">The data set's name.</param>
/// <param name="Train">Training samples.</param>
/// <param name="Evaluation">Held-out samples.</param>
public sealed record TrainData(string Spec, string Name, long Train, long Evaluation);
