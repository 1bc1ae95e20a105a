using Compressor.Host.Pipeline;
using Compressor.Sdk;

namespace Compressor.Host.Demo;

/// <summary>The outcome of one demo step.</summary>
/// <param name="Step">The step.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Reason">Why it was skipped or failed (null when it ran).</param>
/// <param name="Run">What its run produced (null unless it ran).</param>
/// <param name="Seconds">Wall time of the step.</param>
/// <param name="Error">The exception of a failed step (for the exit code).</param>
public sealed record DemoStepResult(DemoStep Step, DemoStepStatus Status, string? Reason, RunResult? Run, double Seconds, CompressException? Error = null);
