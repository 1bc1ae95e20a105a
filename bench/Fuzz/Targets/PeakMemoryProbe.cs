namespace Compressor.Fuzz;

/// <summary>The process's peak resident memory per input, from the kernel: <see cref="Reset"/> sets the high-water
/// mark (VmHWM) to the current resident size (writing 5 to <c>/proc/self/clear_refs</c>), <see cref="PeakBytes"/>
/// reads it back, so that native allocations (libtorch's tensors, which the managed counters do not see) count too.
/// Where the kernel does not allow it (not Linux), both do nothing and the probe reports 0.</summary>
public static class PeakMemoryProbe
{
    private static readonly bool Available = OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs");

    /// <summary>Resets the high-water mark to the current resident size; returns that size.</summary>
    public static long Reset()
    {
        if (!Available) return 0;
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
        return Read("VmRSS:");
    }

    /// <summary>The peak resident bytes since the last <see cref="Reset"/>.</summary>
    public static long PeakBytes() => Available ? Read("VmHWM:") : 0;

    private static long Read(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
