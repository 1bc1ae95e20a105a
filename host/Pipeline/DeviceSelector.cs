using System.Runtime.InteropServices;
using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Resolves <c>--device auto|cpu|cuda[:N]</c>. When CUDA is asked for and libtorch sees none, the error says
/// which part is missing and what to install: this build's libtorch is the CPU one (a CUDA build of compress is
/// needed), or it is a CUDA build but no NVIDIA driver is installed, or both are there and libtorch still cannot use
/// the GPU.</summary>
public static class DeviceSelector
{
    /// <summary>The device for <paramref name="spec"/>; auto picks CUDA when libtorch sees a GPU.</summary>
    /// <exception cref="CompressException">A bad spelling, or CUDA requested where none is available.</exception>
    public static Device Resolve(string spec)
    {
        string s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return CPU;
        if (s == "auto") return cuda.is_available() ? CUDA : CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new CompressException(ErrorKind.InvalidOptions, NoCudaMessage(spec, CudaLibtorchPresent(), NvidiaDriverPresent()));
            if (s == "cuda") return CUDA;
            if (int.TryParse(s[5..], out int n) && n >= 0 && n < cuda.device_count()) return new Device(TorchSharp.DeviceType.CUDA, n);
            throw new CompressException(ErrorKind.InvalidOptions, $"--device {spec}: no such CUDA device (found {cuda.device_count()}: cuda:0..cuda:{cuda.device_count() - 1})");
        }
        throw new CompressException(ErrorKind.InvalidOptions, $"--device '{spec}' is not one of auto, cpu, cuda, cuda:N");
    }

    /// <summary>What to tell a user who asked for <paramref name="spec"/> where libtorch sees no CUDA device.</summary>
    /// <param name="spec">The <c>--device</c> value.</param>
    /// <param name="cudaLibtorch">Whether this compress carries a CUDA build of libtorch.</param>
    /// <param name="nvidiaDriver">Whether an NVIDIA driver is installed (its kernel module or <c>libcuda.so.1</c>).</param>
    public static string NoCudaMessage(string spec, bool cudaLibtorch, bool nvidiaDriver) => (cudaLibtorch, nvidiaDriver) switch
    {
        (false, true) => $"--device {spec}: this compress carries the CPU build of libtorch, which cannot use the NVIDIA GPU of this machine; " +
                         "install a CUDA build of compress (built with -p:TorchBackend=cuda-12.8, which brings libtorch-cuda-12.8-linux-x64: docs/packaging.md), " +
                         $"point {Native.NativeBackend.EnvironmentVariable} (or --libtorch) at a CUDA libtorch {Native.NativeBackend.ExpectedLibTorch.Major}.{Native.NativeBackend.ExpectedLibTorch.Minor} folder, or pass --device cpu",
        (false, false) => $"--device {spec}: no NVIDIA GPU driver was found on this machine (no /proc/driver/nvidia, no libcuda.so.1) and this compress carries the " +
                          "CPU build of libtorch; pass --device cpu (or auto). On a GPU machine: install the NVIDIA driver and a CUDA build of compress (-p:TorchBackend=cuda-12.8: docs/packaging.md)",
        (true, false) => $"--device {spec}: this compress carries CUDA libtorch, but no NVIDIA driver was found (no /proc/driver/nvidia, no libcuda.so.1): " +
                         "install the NVIDIA driver (one that supports CUDA 12.8: 'nvidia-smi' shows the CUDA version it supports), or pass --device cpu",
        (true, true) => $"--device {spec}: the NVIDIA driver and CUDA libtorch are installed, but libtorch sees no usable GPU: check 'nvidia-smi' " +
                        "(the driver must support CUDA 12.8; CUDA_VISIBLE_DEVICES must not hide the GPUs), or pass --device cpu",
    };

    /// <summary>Whether the libtorch in use is a CUDA build: the one named by <c>COMPRESS_LIBTORCH</c> / <c>--libtorch</c>
    /// has its CUDA libraries, or the one beside this executable ships <c>libtorch_cuda.so</c>.</summary>
    public static bool CudaLibtorchPresent()
    {
        if (Native.NativeBackend.External is { } external) return external.Folder.HasCuda;
        string dir = AppContext.BaseDirectory;
        return File.Exists(Path.Combine(dir, "libtorch_cuda.so")) || File.Exists(Path.Combine(dir, "runtimes", "linux-x64", "native", "libtorch_cuda.so"))
               || File.Exists(Path.Combine(dir, "torch_cuda.dll"));
    }

    /// <summary>Whether an NVIDIA driver is installed: its kernel module (<c>/proc/driver/nvidia</c>) or its user-space
    /// library (<c>libcuda.so.1</c>) is there.</summary>
    public static bool NvidiaDriverPresent()
    {
        if (Directory.Exists("/proc/driver/nvidia")) return true;
        if (NativeLibrary.TryLoad("libcuda.so.1", out var handle))
        {
            NativeLibrary.Free(handle);
            return true;
        }
        return false;
    }
}
