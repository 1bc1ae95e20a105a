using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>How one demo step ended.</summary>
public enum DemoStepStatus
{
    /// <summary>It ran, and its outputs passed the verification gate.</summary>
    Ok,

    /// <summary>A plugin it needs is not installed (or not loadable); not an error.</summary>
    Skipped,

    /// <summary>It ran and failed; the reason is the one-line error.</summary>
    Failed,
}

/// <summary>The outcome of one demo step.</summary>
/// <param name="Step">The step.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Reason">Why it was skipped or failed (null when it ran).</param>
/// <param name="OutputDirectory">Its output folder (null unless it ran).</param>
/// <param name="Report">Its report.json (null unless it ran).</param>
/// <param name="Seconds">Wall time of the step.</param>
/// <param name="ReferenceOnnxBytes">Size of the uncompressed reference ONNX model it was evaluated against (0 if unknown).</param>
/// <param name="Error">The exception of a failed step (for the exit code).</param>
public sealed record DemoStepResult(DemoStep Step, DemoStepStatus Status, string? Reason, string? OutputDirectory, JObject? Report, double Seconds,
    long ReferenceOnnxBytes = 0, Compressor.Sdk.CompressException? Error = null);
