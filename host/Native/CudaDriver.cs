using System.Runtime.InteropServices;
using System.Text;

namespace Compressor.Host.Native;

/// <summary>The NVIDIA driver as the CUDA driver API (<c>libcuda.so.1</c>) reports it: the driver's CUDA version and
/// the cards' names, for the device line (TorchSharp exposes neither). Read-only queries (<c>cuInit</c>,
/// <c>cuDriverGetVersion</c>, <c>cuDeviceGetCount</c>, <c>cuDeviceGet</c>, <c>cuDeviceGetName</c>); without a driver
/// it says why.</summary>
/// <param name="Available">Whether the driver initialised and sees at least one device.</param>
/// <param name="DriverCudaVersion">The highest CUDA version the driver supports (e.g. 12.8), or null.</param>
/// <param name="Devices">The devices' names in CUDA order.</param>
/// <param name="Problem">Why no device is available, or null.</param>
public sealed record CudaDriver(bool Available, string? DriverCudaVersion, IReadOnlyList<string> Devices, string? Problem)
{
    /// <summary>Queries the driver of this machine (never throws).</summary>
    public static CudaDriver Query()
    {
        if (!OperatingSystem.IsLinux()) return new(false, null, [], "CUDA is used on Linux only");
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var lib)) return new(false, null, [], "no NVIDIA driver (libcuda.so.1 not found)");
        try
        {
            var init = Function<CuInit>(lib, "cuInit");
            var driverVersion = Function<CuDriverGetVersion>(lib, "cuDriverGetVersion");
            var count = Function<CuDeviceGetCount>(lib, "cuDeviceGetCount");
            var get = Function<CuDeviceGet>(lib, "cuDeviceGet");
            var name = Function<CuDeviceGetName>(lib, "cuDeviceGetName");
            if (init is null || driverVersion is null || count is null || get is null || name is null)
                return new(false, null, [], "libcuda.so.1 lacks the driver API entry points");
            string? version = driverVersion(out int v) == 0 ? $"{v / 1000}.{v % 1000 / 10}" : null;
            int status = init(0);
            if (status != 0) return new(false, version, [], $"cuInit failed with CUDA error {status}{(status == 100 ? " (no CUDA-capable device)" : "")}");
            if (count(out int n) != 0 || n == 0) return new(false, version, [], "the driver sees no CUDA device");
            var names = new List<string>();
            var buffer = new byte[256];
            for (int i = 0; i < n; i++)
            {
                if (get(out int device, i) != 0 || name(buffer, buffer.Length, device) != 0) { names.Add($"cuda:{i}"); continue; }
                int end = Array.IndexOf(buffer, (byte)0);
                names.Add(Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end));
            }
            return new(true, version, names, null);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or MarshalDirectiveException or SEHException)
        {
            return new(false, null, [], $"querying the driver failed: {e.Message}");
        }
    }

    private static T? Function<T>(IntPtr lib, string name) where T : Delegate =>
        NativeLibrary.TryGetExport(lib, name, out var f) ? Marshal.GetDelegateForFunctionPointer<T>(f) : null;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuInit(uint flags);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDriverGetVersion(out int version);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDeviceGetCount(out int count);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDeviceGet(out int device, int ordinal);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDeviceGetName(byte[] name, int length, int device);
}
