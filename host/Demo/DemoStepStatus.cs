namespace Compressor.Host.Demo;

/// <summary>How one demo step ended (report.json writes it in lower case).</summary>
public enum DemoStepStatus
{
    /// <summary>It ran, and its outputs passed the verification gate.</summary>
    Ok,

    /// <summary>A plugin it needs is not installed (or not loadable); not an error.</summary>
    Skipped,

    /// <summary>It ran and failed; the reason is the one-line error.</summary>
    Failed,
}
