namespace Compressor.Engine.Training;

/// <summary>One epoch of training: mean training loss, held-out loss, and held-out accuracy (images) or
/// perplexity (tokens), with the wall time.</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double EvalLoss, double? EvalAccuracy, double? EvalPerplexity, double Seconds);
