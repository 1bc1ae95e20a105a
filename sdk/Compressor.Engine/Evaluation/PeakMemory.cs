using System.Diagnostics;

namespace Compressor.Engine.Evaluation;

/// <summary>Peak resident memory that a piece of work adds to this process.
/// <para>On Linux the kernel's peak-RSS mark (VmHWM) is reset by writing 5 to <c>/proc/self/clear_refs</c>, so the
/// measure is <i>peak RSS during the work − RSS just before it</i> (<see cref="PeakReset"/>): it
/// counts everything the work makes resident (ORT's session, weights, arenas, thread stacks, managed buffers), and not
/// what the process already held (TorchSharp, the data set, ORT's native library once loaded:
/// <see cref="OrtEvaluation"/> loads it with a throwaway session before measuring). Memory freed before the work is
/// first handed back to the OS (GC, then glibc <c>malloc_trim</c>), so the work cannot hide in pages the process
/// already holds; what the allocator keeps anyway makes it a slight underestimate. Where the mark cannot be reset, it is the growth of the
/// process's lifetime peak working set (<see cref="PeakGrowth"/>), which reads 0 when an earlier peak was
/// higher: a lower bound.</para></summary>
public static class PeakMemory
{
    private const string ClearRefs = "/proc/self/clear_refs";

    /// <summary>The method name of the reset-based measure.</summary>
    public const string PeakReset = "rss-peak-reset";

    /// <summary>The method name of the fallback measure (a lower bound).</summary>
    public const string PeakGrowth = "peak-working-set-growth";

    /// <summary>Runs <paramref name="work"/> and returns the peak resident memory it added, in MiB (2^20 bytes), and
    /// the method used (<see cref="PeakReset"/> or <see cref="PeakGrowth"/>).</summary>
    public static (double MiB, string Method) Measure(Action work)
    {
        ReleaseFreedMemory();
        if (TryReset())
        {
            long before = Status("VmRSS:");
            work();
            long peak = Status("VmHWM:");
            return (Math.Max(0, peak - before) / 1024.0, PeakReset);
        }
        using var p = Process.GetCurrentProcess();
        long lifetime = p.PeakWorkingSet64;
        work();
        p.Refresh();
        return (Math.Max(0, p.PeakWorkingSet64 - lifetime) / (1024.0 * 1024.0), PeakGrowth);
    }

    /// <summary>Returns memory freed earlier (by a previous session) to the OS, so the work's pages are counted when
    /// it touches them rather than hidden in heap the process already holds: a full GC, then glibc's
    /// <c>malloc_trim(0)</c> where it exists.</summary>
    private static void ReleaseFreedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    private static bool CanReset() => OperatingSystem.IsLinux() && File.Exists(ClearRefs) && File.Exists("/proc/self/status");

    private static bool TryReset()
    {
        if (!CanReset()) return false;
        try
        {
            File.WriteAllText(ClearRefs, "5");
            return Status("VmHWM:") > 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A kB field of /proc/self/status.</summary>
    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        return 0;
    }
}
