using System.Globalization;
using TorchSharp;

namespace Compressor.Engine.Runtime;

/// <summary>How many threads compute uses: libtorch's intra-op pool (its inter-op pool is one thread: the engine's
/// models run no inter-op parallel work, and every idle pool thread is one more waiter competing for a busy CPU) and
/// every ONNX Runtime session's intra-op pool (inter-op one). The default is the number of CPUs this process may use
/// (<see cref="Environment.ProcessorCount"/>, which follows CPU affinity and a container's CPU quota), or
/// <see cref="EnvironmentVariable"/> when set; <c>--threads N</c> overrides both. It is fixed for a machine, not
/// derived from the current load, so that a run's results do not change with what else runs: on a machine shared with
/// other busy processes, pass <c>--threads 1</c> (or set the variable), which avoids the waiting threads spinning on
/// CPUs that others are using (bench/README.md, "Threads under load").</summary>
public static class ComputeThreads
{
    /// <summary>The environment variable that sets the default.</summary>
    public const string EnvironmentVariable = "COMPRESS_THREADS";

    /// <summary>The largest accepted count.</summary>
    public const int Max = 1024;

    private static int _count = Default();
    private static int _interOpSet;

    /// <summary>Whether <see cref="Apply"/> may size libtorch's inter-op pool: only a process that has done no libtorch
    /// work yet (the <c>compress</c> executable, at its start) — libtorch aborts the process when the pool is sized
    /// twice or after parallel work began, so a host that embeds the engine leaves this false.</summary>
    public static bool InterOpSettable { get; set; }

    /// <summary>The threads compute uses now.</summary>
    public static int Count => Volatile.Read(ref _count);

    /// <summary>The CPUs this process may use.</summary>
    public static int Available => Environment.ProcessorCount;

    /// <summary>The default: <see cref="EnvironmentVariable"/> when it holds a count in 1..<see cref="Max"/>, else <see cref="Available"/>.</summary>
    public static int Default() =>
        int.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= Max
            ? n : Available;

    /// <summary>Uses <paramref name="threads"/> threads from now on (libtorch at once; ONNX Runtime sessions created afterwards).</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.InvalidOptions"/>: not in 1..<see cref="Max"/>.</exception>
    public static void Apply(int threads)
    {
        if (threads is < 1 or > Max) throw new CompressException(ErrorKind.InvalidOptions, $"--threads {threads} is out of range (1..{Max})");
        Volatile.Write(ref _count, threads);
        torch.set_num_threads(threads);
        // libtorch accepts the inter-op size once, before its first parallel work (later it aborts the process).
        if (InterOpSettable && Interlocked.Exchange(ref _interOpSet, 1) == 0) torch.set_num_interop_threads(1);
    }
}
