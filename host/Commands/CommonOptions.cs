using System.CommandLine;
using Compressor.Host.Console;

namespace Compressor.Host.Commands;

/// <summary>Options every command shares.</summary>
public static class CommonOptions
{
    /// <summary><c>--verbosity q|m|n|d|diag</c>.</summary>
    public static Option<string> Verbosity() => new Option<string>("--verbosity", "-v")
    {
        Description = "How much to log on stderr: q[uiet], m[inimal], n[ormal], d[etailed], diag[nostic] (diag also prints stack traces).",
        DefaultValueFactory = _ => "n",
        Recursive = true,
    }.AcceptOnlyFromAmong(VerbosityExtensions.Names);

    /// <summary><c>--format text|json</c>.</summary>
    public static Option<string> Format() => new Option<string>("--format")
    {
        Description = "Result format on stdout: text for people, json for scripts (versioned, stable field names).",
        DefaultValueFactory = _ => "text",
        Recursive = true,
    }.AcceptOnlyFromAmong("text", "json");

    /// <summary><c>--threads N</c>: compute threads (libtorch intra-op, ONNX Runtime intra-op).</summary>
    public static Option<int?> Threads() => new("--threads")
    {
        Description = $"Compute threads for libtorch and ONNX Runtime (default: ${Compressor.Engine.Runtime.ComputeThreads.EnvironmentVariable}, else one per CPU this process may use). On a machine shared with other busy processes, 1 avoids threads waiting on busy CPUs.",
        Recursive = true,
    };

    /// <summary><c>--plugins DIR</c> (repeatable).</summary>
    public static Option<string[]> Plugins() => new("--plugins")
    {
        Description = $"Extra folder to search for plugins (repeatable); searched before ${Host.Plugins.PluginCatalog.EnvironmentVariable} and the plugins folder beside the executable.",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary><c>--eval-limit N</c> (<c>run</c>, <c>eval</c>, <c>demo</c>).</summary>
    public static Option<long?> EvalLimit() => new("--eval-limit")
    {
        Description = "Evaluate at most N samples of the evaluation split (the first N, fixed by the seed); the report says how many were evaluated. Default: all.",
    };
}
