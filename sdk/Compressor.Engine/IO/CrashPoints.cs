using System.Runtime.InteropServices;

namespace Compressor.Engine.IO;

/// <summary>Named points inside multi-file commits (resume entries, output folders) where tests stop the work as a
/// crash would, so that atomicity is proven at the exact point instead of by timing luck. Two ways to arm one:
/// in process, <see cref="Arm"/> runs a callback at each point reached on this async flow (a test throws from it and
/// then inspects what is on disk); across processes, the environment variable <see cref="EnvironmentVariable"/>
/// (<c>NAME</c> or <c>NAME:N</c>, the N-th time the point is reached) makes the process kill itself with SIGKILL there,
/// exactly like <c>kill -9</c>. Unarmed, a point costs one comparison. Test use only.</summary>
public static class CrashPoints
{
    /// <summary>The environment variable that arms a point for a whole process (<c>NAME[:N]</c>).</summary>
    public const string EnvironmentVariable = "COMPRESS_TEST_CRASH_AT";

    private static readonly AsyncLocal<Action<string>?> Callback = new();
    private static readonly (string Name, int Count)? FromEnvironment = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));
    private static int _hits;

    /// <summary>Runs <paramref name="callback"/> at every point reached on the current async flow until disposed.</summary>
    public static IDisposable Arm(Action<string> callback)
    {
        var previous = Callback.Value;
        Callback.Value = callback;
        return new Disarm(previous);
    }

    /// <summary>Marks point <paramref name="name"/>.</summary>
    public static void Reach(string name)
    {
        Callback.Value?.Invoke(name);
        if (FromEnvironment is { } armed && armed.Name == name && Interlocked.Increment(ref _hits) == armed.Count)
        {
            System.Console.Error.Flush();
            if (!OperatingSystem.IsWindows()) kill(Environment.ProcessId, 9);
            Environment.FailFast($"crash point {name}");
        }
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        int colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value[(colon + 1)..], out int n) && n > 0 ? (value[..colon], n) : (value, 1);
    }

    private sealed class Disarm(Action<string>? previous) : IDisposable
    {
        public void Dispose() => Callback.Value = previous;
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int kill(int pid, int signal);
}
