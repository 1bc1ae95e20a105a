using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Resolves <c>--device auto|cpu|cuda[:N]</c>.</summary>
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
                throw new CompressException(ErrorKind.InvalidOptions, $"--device {spec}: no CUDA device is available to this libtorch: {Native.DeviceReport.WhyNoCuda()}");
            if (s == "cuda") return CUDA;
            if (int.TryParse(s[5..], out int n) && n >= 0 && n < cuda.device_count()) return new Device(TorchSharp.DeviceType.CUDA, n);
            throw new CompressException(ErrorKind.InvalidOptions, $"--device {spec}: no such CUDA device (found {cuda.device_count()})");
        }
        throw new CompressException(ErrorKind.InvalidOptions, $"--device '{spec}' is not one of auto, cpu, cuda, cuda:N");
    }
}
