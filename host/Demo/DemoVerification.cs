namespace Compressor.Host.Demo;

/// <summary>A demo step's <c>verification</c>: the summary of its run's gate.</summary>
public sealed record DemoVerification(bool Passed, double? SqnrDb, double? OptimizedSqnrDb, IReadOnlyList<string> FusedKernels);
