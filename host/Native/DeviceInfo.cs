namespace Compressor.Host.Native;

/// <summary>What this process computes on: the device line of <c>compress --version</c> and <c>plugin list</c>
/// (<see cref="Line"/>), and the <c>device</c> object of <c>plugin list --format json</c>.</summary>
/// <param name="Type"><c>cuda</c> when libtorch sees a CUDA device, else <c>cpu</c>.</param>
/// <param name="Devices">The CUDA devices' names, in CUDA order (empty on the CPU).</param>
/// <param name="LibTorch">The libtorch version running.</param>
/// <param name="Source"><c>bundled</c>, <c>COMPRESS_LIBTORCH</c> or <c>--libtorch</c>.</param>
/// <param name="LibTorchDirectory">The folder libtorch was loaded from (read from the process's mapped libraries).</param>
/// <param name="Cuda">The CUDA version of the libtorch build, or null for a CPU build.</param>
/// <param name="DriverCuda">The highest CUDA version the NVIDIA driver supports, or null without a driver.</param>
/// <param name="LibTorchSharp">The LibTorchSharp loaded (its path).</param>
/// <param name="Problem">Why CUDA is not available although the libtorch is a CUDA build, or why libtorch did not load; null otherwise.</param>
public sealed record DeviceInfo(string Type, IReadOnlyList<string> Devices, string? LibTorch, string Source, string? LibTorchDirectory, string? Cuda,
    string? DriverCuda, string? LibTorchSharp, string? Problem)
{
    /// <summary>One line for people, e.g. <c>device: cuda (NVIDIA H200; libtorch 2.11.0+cu128, CUDA 12.8, from
    /// /opt/venv/…/torch/lib via COMPRESS_LIBTORCH)</c> or <c>device: cpu (libtorch 2.10.0, bundled; no CUDA)</c>.</summary>
    public string Line()
    {
        string where = Source == "bundled" ? "bundled" : $"from {LibTorchDirectory} via {Source}";
        string libtorch = LibTorch is null ? "libtorch not loaded" : $"libtorch {LibTorch}{(Cuda is null ? "" : $", CUDA {Cuda}")}, {where}";
        if (Type == "cuda")
        {
            string cards = Devices.Count == 1 ? Devices[0] : $"{Devices.Count} devices: {string.Join(", ", Devices)}";
            return $"device: cuda ({cards}; {libtorch})";
        }
        return $"device: cpu ({libtorch}; {Problem ?? "no CUDA"})";
    }
}
