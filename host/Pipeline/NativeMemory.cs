using System.Runtime.InteropServices;

namespace Compressor.Host.Pipeline;

/// <summary>Makes freed native memory go back to the system during a streamed run. glibc serves allocations below its
/// mmap threshold from its heaps, and raises that threshold (up to 32 MiB) each time a larger block is freed — so the
/// tensors of a transformer block (8–50 MiB each) end up in heaps that fragment and are not returned when the block is
/// freed, and the resident size grows block after block although only one block is live. Fixing the threshold at
/// 1 MiB (<c>mallopt(M_MMAP_THRESHOLD)</c>, what <c>MALLOC_MMAP_THRESHOLD_</c> does) maps every tensor of that size on
/// its own and unmaps it when freed. Linux with glibc only; elsewhere nothing changes.</summary>
internal static class NativeMemory
{
    private const int MmapThreshold = -3;   // M_MMAP_THRESHOLD

    /// <summary>Applies the setting (once per process; harmless when repeated).</summary>
    public static void ReturnFreedBlocks()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { mallopt(MmapThreshold, 1 << 20); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
