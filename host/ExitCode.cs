using Compressor.Sdk;

namespace Compressor.Host;

/// <summary>The exit codes of <c>compress</c> (documented in the README).</summary>
public enum ExitCode
{
    /// <summary>Success.</summary>
    Success = 0,
    /// <summary>An unexpected internal error (a bug: the message says so).</summary>
    InternalError = 1,
    /// <summary>Bad command line or options: unknown flag, bad value, out of range.</summary>
    InvalidArguments = 2,
    /// <summary>A bad input file: missing, truncated, malformed, unsafe, or incompatible with the request.</summary>
    InvalidInput = 3,
    /// <summary>The plugin is not installed, failed to load, targets another SDK major, or its constructor threw.</summary>
    PluginUnavailable = 4,
    /// <summary>The plugin threw or produced an invalid model (NaN/Inf weights) while running.</summary>
    PluginFailed = 5,
    /// <summary>An output could not be written.</summary>
    OutputFailed = 6,
    /// <summary>The produced model failed verification.</summary>
    VerificationFailed = 7,
    /// <summary>A plugin ran past <c>--timeout</c> and was stopped.</summary>
    PluginTimedOut = 8,
    /// <summary>A plugin changed or replaced layers outside its include/exclude selection and was stopped.</summary>
    PluginExceededSelection = 9,
    /// <summary>The model, data or a layer's working set would exceed <c>--max-memory</c>; stopped before allocating it.</summary>
    MemoryLimitExceeded = 10,
    /// <summary><c>compress search</c>: no evaluated model meets <c>--budget</c> and keeps <c>--keep</c>; nothing was written.</summary>
    BudgetNotMet = 11,
    /// <summary>Cancelled (Ctrl+C, SIGINT).</summary>
    Cancelled = 130,
    /// <summary>Cancelled by SIGTERM (128 + 15): the same clean stop as <see cref="Cancelled"/>.</summary>
    Terminated = 143,
}

/// <summary>Maps error kinds to exit codes.</summary>
public static class ExitCodes
{
    /// <summary>The exit code for an error of <paramref name="kind"/>.</summary>
    public static ExitCode For(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidOptions => ExitCode.InvalidArguments,
        ErrorKind.InvalidInput => ExitCode.InvalidInput,
        ErrorKind.PluginUnavailable => ExitCode.PluginUnavailable,
        ErrorKind.PluginFailed => ExitCode.PluginFailed,
        ErrorKind.OutputFailed => ExitCode.OutputFailed,
        ErrorKind.VerificationFailed => ExitCode.VerificationFailed,
        ErrorKind.Cancelled => ExitCode.Cancelled,
        ErrorKind.TimedOut => ExitCode.PluginTimedOut,
        ErrorKind.SelectionViolated => ExitCode.PluginExceededSelection,
        ErrorKind.MemoryLimit => ExitCode.MemoryLimitExceeded,
        _ => ExitCode.InternalError,
    };
}
