namespace Compressor.Host.Pipeline;

/// <summary>Everything <c>compress train</c> was asked to do.</summary>
/// <param name="Architecture">A built-in architecture or preset (sized from the data).</param>
/// <param name="Data">The data spec.</param>
/// <param name="OutputDirectory">Where model.safetensors and train.json go.</param>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="BatchSize">Samples per step.</param>
/// <param name="WeightDecay">AdamW weight decay.</param>
/// <param name="Seed">Seed of initialisation, splits and order.</param>
/// <param name="Resume">Continue an interrupted run with the same output folder.</param>
/// <param name="Config">Architecture config overrides as JSON, or null.</param>
/// <param name="Device">auto, cpu, cuda or cuda:N.</param>
public sealed record TrainRequest(string Architecture, string Data, string OutputDirectory, int Epochs = 30, double LearningRate = 3e-3, int BatchSize = 32,
    double WeightDecay = 0.05, int Seed = 0, bool Resume = false, string? Config = null, string Device = "auto");
