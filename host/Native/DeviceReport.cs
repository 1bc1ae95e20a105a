using static TorchSharp.torch;

namespace Compressor.Host.Native;

/// <summary>Describes the device this process computes on (<see cref="DeviceInfo"/>). Loads TorchSharp's native
/// library if nothing has yet (after <see cref="NativeBackend.Configure"/>, so a named libtorch is the one described).</summary>
public static class DeviceReport
{
    /// <summary>The current device; never throws (a libtorch that does not load is reported as the problem).</summary>
    public static DeviceInfo Describe()
    {
        var external = NativeBackend.External;
        string source = external?.Origin ?? "bundled";
        string? sharp = LoadedLibraries.Find(LibTorchFolder.LibTorchSharpFile) ?? external?.LibTorchSharp;
        bool available;
        int count;
        try
        {
            available = cuda.is_available();
            count = available ? cuda.device_count() : 0;
        }
        catch (Exception e)
        {
            var inner = e is TypeInitializationException { InnerException: { } ie } ? ie : e;
            return new DeviceInfo("cpu", [], external?.Folder.Version.Text, source, external?.Folder.LibraryDirectory, external?.Folder.CudaVersion, null, sharp,
                $"libtorch did not load: {inner.GetType().Name}: {inner.Message.Split('\n')[0].Trim()}");
        }
        string? loadedFrom = LoadedLibraries.Find("libtorch_cpu.so") is { } cpu ? Path.GetDirectoryName(cpu) : null;
        string version = external?.Folder.Version.Text ?? Bundled();
        string? cudaVersion = external?.Folder.CudaVersion;
        bool cudaBuild = external?.Folder.HasCuda ?? LoadedLibraries.Find("libtorch_cuda.so") is not null;
        var driver = available || cudaBuild ? CudaDriver.Query() : null;
        if (available)
        {
            var names = driver is { Available: true } && driver.Devices.Count == count
                ? driver.Devices
                : Enumerable.Range(0, count).Select(i => $"cuda:{i}").ToList();
            return new DeviceInfo("cuda", names, version, source, loadedFrom, cudaVersion, driver?.DriverCudaVersion, sharp, null);
        }
        string? problem = cudaBuild
            ? $"CUDA libtorch loaded, but no CUDA device is usable: {driver?.Problem ?? $"libtorch reports none (driver supports CUDA {driver?.DriverCudaVersion ?? "?"})"}"
            : null;
        return new DeviceInfo("cpu", [], version, source, loadedFrom, cudaVersion, driver?.DriverCudaVersion, sharp, problem);
    }

    /// <summary>Why <c>--device cuda</c> cannot be honoured, for its error message.</summary>
    public static string WhyNoCuda()
    {
        var info = Describe();
        if (info.Problem is { } p) return p;
        return NativeBackend.External is null
            ? $"the bundled libtorch is a CPU build: set {NativeBackend.EnvironmentVariable} (or --libtorch) to a CUDA libtorch {NativeBackend.ExpectedLibTorch.MajorMinor} folder, e.g. a PyTorch install's torch/lib (docs/packaging.md, \"GPU\")"
            : $"{NativeBackend.External.Origin} {NativeBackend.External.Folder.LibraryDirectory} is a CPU build of libtorch";
    }

    private static string Bundled() => LibTorchVersion.TryParse(__version__) is { } v ? $"{v.Major}.{v.Minor}.{v.Patch}" : __version__;
}
