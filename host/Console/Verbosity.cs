using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Console;

/// <summary><c>--verbosity q|m|n|d|diag</c>, as in dotnet's tools.</summary>
public enum Verbosity
{
    /// <summary>Errors only.</summary>
    Quiet,
    /// <summary>Warnings and errors.</summary>
    Minimal,
    /// <summary>Progress and information (default).</summary>
    Normal,
    /// <summary>Details.</summary>
    Detailed,
    /// <summary>Everything, and stack traces on errors.</summary>
    Diagnostic,
}

/// <summary>Parsing and filtering for <see cref="Verbosity"/>.</summary>
public static class VerbosityExtensions
{
    /// <summary>The accepted spellings.</summary>
    public static readonly string[] Names = ["q", "quiet", "m", "minimal", "n", "normal", "d", "detailed", "diag", "diagnostic"];

    /// <summary>Parses a spelling.</summary>
    public static Verbosity Parse(string s) => s.ToLowerInvariant() switch
    {
        "q" or "quiet" => Verbosity.Quiet,
        "m" or "minimal" => Verbosity.Minimal,
        "d" or "detailed" => Verbosity.Detailed,
        "diag" or "diagnostic" => Verbosity.Diagnostic,
        _ => Verbosity.Normal,
    };

    /// <summary>Whether a message of <paramref name="level"/> is shown at <paramref name="v"/>.</summary>
    public static bool Shows(this Verbosity v, LogLevel level) => level switch
    {
        LogLevel.Error => true,
        LogLevel.Warning => v >= Verbosity.Minimal,
        LogLevel.Information => v >= Verbosity.Normal,
        LogLevel.Debug => v >= Verbosity.Detailed,
        _ => v >= Verbosity.Diagnostic,
    };
}
