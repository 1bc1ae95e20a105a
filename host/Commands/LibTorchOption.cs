using System.CommandLine;
using Compressor.Host.Native;
using Compressor.Sdk;

namespace Compressor.Host.Commands;

/// <summary><c>--libtorch DIR</c>: the libtorch to run instead of the bundled CPU one (e.g. a PyTorch install's CUDA
/// <c>torch/lib</c>), applied at start-up before anything uses TorchSharp (<see cref="NativeBackend"/>).</summary>
public static class LibTorchOption
{
    /// <summary>The option (every command).</summary>
    public static Option<string> Create() => new("--libtorch")
    {
        Description = $"A libtorch folder to run instead of the bundled CPU libtorch, e.g. a PyTorch install's torch/lib (CUDA), an extracted libtorch zip or a NuGet libtorch " +
                      $"package; checked at start-up (its libtorch {NativeBackend.ExpectedLibTorch.MajorMinor} must match the LibTorchSharp, see docs/packaging.md \"GPU\"). " +
                      $"Overrides ${NativeBackend.EnvironmentVariable}.",
        Recursive = true,
    };

    /// <summary>Applies <c>--libtorch</c> or <c>COMPRESS_LIBTORCH</c>; writes warnings to <paramref name="stderr"/>.
    /// Returns null when the run may go on, else the exit code after one <c>error:</c> line.</summary>
    public static int? Apply(string? option, TextWriter stderr)
    {
        try
        {
            foreach (var w in NativeBackend.Configure(option, Environment.GetEnvironmentVariable)) stderr.WriteLine($"warning: {w}");
            return null;
        }
        catch (CompressException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return (int)ExitCodes.For(e.Kind);
        }
    }
}
