namespace Compressor.Sdk.Diagnostics;

/// <summary>Message levels, matching <c>--verbosity q|m|n|d|diag</c> (quiet shows errors only).</summary>
public enum LogLevel
{
    /// <summary>Internals, shown with <c>diag</c>.</summary>
    Trace,
    /// <summary>Details, shown with <c>d</c> and above.</summary>
    Debug,
    /// <summary>Normal progress information, shown with <c>n</c> and above.</summary>
    Information,
    /// <summary>Something the user should know, shown with <c>m</c> and above.</summary>
    Warning,
    /// <summary>Failures, always shown.</summary>
    Error,
}
