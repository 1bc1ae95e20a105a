using System.Reflection;
using System.Runtime.InteropServices;
using Compressor.Sdk;

namespace Compressor.Host.Native;

/// <summary>Which libtorch this process runs: the bundled CPU one (TorchSharp's usual loading), or one named at start-up
/// by <c>--libtorch DIR</c> or <see cref="EnvironmentVariable"/> — a CUDA libtorch that no NuGet package brings, e.g. a
/// Python PyTorch install's <c>torch/lib</c>.
/// <para>For a named folder, before anything touches TorchSharp: the folder is inspected (<see cref="LibTorchFolder"/>),
/// the version rule applied (<see cref="LibTorchCompatibility"/>), its libraries loaded from that folder (c10,
/// torch_cpu, the CUDA ones, torch), then the LibTorchSharp — <see cref="LibTorchSharpVariable"/>'s, one beside the
/// libraries, or the one shipped with compress — with every symbol resolved at once, so that a mismatch is one error
/// line here rather than a crash at the first call; finally TorchSharp's native imports are pointed at these libraries
/// (a <c>DllImportResolver</c> on TorchSharp's assembly). LibTorchSharp's dependencies on libtorch.so, libc10.so and
/// libtorch_cpu.so then resolve to the libraries already loaded (the dynamic loader matches them by soname), not to
/// the bundled copies beside compress.</para></summary>
public static class NativeBackend
{
    /// <summary>Names a libtorch folder (what <c>--libtorch</c> names; the option wins).</summary>
    public const string EnvironmentVariable = "COMPRESS_LIBTORCH";

    /// <summary>Names a LibTorchSharp (file or folder) built for the libtorch of <see cref="EnvironmentVariable"/>.</summary>
    public const string LibTorchSharpVariable = "COMPRESS_LIBTORCHSHARP";

    /// <summary><c>off</c> loads a libtorch of another minor version than the LibTorchSharp was built for (probing only).</summary>
    public const string VersionCheckVariable = "COMPRESS_LIBTORCH_VERSION_CHECK";

    /// <summary>The libtorch TorchSharp 0.107.0's LibTorchSharp was built for (its <c>torch.__version__</c>, 2.10.0.0;
    /// a test keeps the two equal). A constant: reading <c>torch.__version__</c> would load the native library.</summary>
    public static readonly LibTorchVersion ExpectedLibTorch = new(2, 10, 0, "2.10.0");

    private static readonly object Gate = new();

    /// <summary>The libtorch named at start-up and loaded, or null (the bundled one, loaded by TorchSharp when first used).</summary>
    public static ExternalLibTorch? External { get; private set; }

    /// <summary>The TorchSharp version compress runs (from its assembly; reading it loads nothing native).</summary>
    public static string TorchSharpVersion { get; } = typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                                                      ?? typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3) ?? "unknown";

    /// <summary>Loads the libtorch named by <paramref name="option"/> (<c>--libtorch</c>) or, without it, by
    /// <see cref="EnvironmentVariable"/>; nothing when neither names one. Call before anything uses TorchSharp.</summary>
    /// <param name="option">The value of <c>--libtorch</c>, or null.</param>
    /// <param name="environment">Reads an environment variable (the process's, or a test's).</param>
    /// <returns>Warnings to show (a version check turned off, a LibTorchSharp without build info).</returns>
    /// <exception cref="CompressException">The folder is unusable or does not load (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public static IReadOnlyList<string> Configure(string? option, Func<string, string?> environment)
    {
        string origin = !string.IsNullOrWhiteSpace(option) ? "--libtorch" : EnvironmentVariable;
        string? path = !string.IsNullOrWhiteSpace(option) ? option : environment(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(path)) return [];
        lock (Gate)
        {
            if (External is { } done)
            {
                if (string.Equals(done.RequestedPath, Path.GetFullPath(path), StringComparison.Ordinal)) return [];
                throw new CompressException(ErrorKind.InvalidInput, $"{origin} {path}: this process already runs the libtorch of {done.Folder.LibraryDirectory}");
            }
            if (!OperatingSystem.IsLinux())
                throw new CompressException(ErrorKind.InvalidInput, $"{origin}: a libtorch folder can be named on Linux only");
            var folder = LibTorchFolder.Inspect(path, origin, environment(LibTorchFolder.VersionOverrideVariable));
            var (sharp, shipped) = ChooseLibTorchSharp(folder, environment(LibTorchSharpVariable));
            var build = shipped ? null : LibTorchSharpBuild.Read(sharp);
            bool versionCheck = !string.Equals(environment(VersionCheckVariable)?.Trim(), "off", StringComparison.OrdinalIgnoreCase);
            var warnings = LibTorchCompatibility.Check(folder, origin, sharp, shipped, build, versionCheck, ExpectedLibTorch, TorchSharpVersion);
            if (LoadedLibraries.Find("libLibTorchSharp.so") is { } already)
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{origin} {path}: TorchSharp's native library is already loaded in this process ({already}); a libtorch folder is chosen at start-up");
            var handles = Load(folder, origin, sharp, shipped);
            NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly, (name, _, _) => name switch
            {
                "LibTorchSharp" => handles.LibTorchSharp,
                "torch_cpu" => handles.TorchCpu,
                "torch_cuda" => handles.TorchCuda,
                _ => IntPtr.Zero,
            });
            External = new ExternalLibTorch(Path.GetFullPath(path), origin, folder, sharp, shipped, build, warnings);
            return warnings;
        }
    }

    /// <summary>The LibTorchSharp to use: <see cref="LibTorchSharpVariable"/>'s, else one beside the libtorch
    /// libraries, else the one shipped with compress.</summary>
    private static (string Path, bool Shipped) ChooseLibTorchSharp(LibTorchFolder folder, string? named)
    {
        if (!string.IsNullOrWhiteSpace(named))
        {
            string full = Path.GetFullPath(named);
            string file = Directory.Exists(full) ? Path.Combine(full, LibTorchFolder.LibTorchSharpFile) : full;
            if (!File.Exists(file)) throw new CompressException(ErrorKind.InvalidInput, $"{LibTorchSharpVariable} {named}: no {LibTorchFolder.LibTorchSharpFile} there");
            return (file, false);
        }
        if (folder.LibTorchSharp is { } beside) return (beside, false);
        return (ShippedLibTorchSharp() ?? throw new CompressException(ErrorKind.InvalidInput,
            $"{LibTorchFolder.LibTorchSharpFile} is not beside compress ({AppContext.BaseDirectory}): set {LibTorchSharpVariable} to one built for this libtorch"), true);
    }

    /// <summary>The LibTorchSharp of the TorchSharp package, where the build or the tool install put it.</summary>
    public static string? ShippedLibTorchSharp()
    {
        string[] dirs =
        [
            AppContext.BaseDirectory,
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"),
            Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) ?? AppContext.BaseDirectory,
        ];
        return dirs.Select(d => Path.Combine(d, LibTorchFolder.LibTorchSharpFile)).FirstOrDefault(File.Exists);
    }

    private sealed record Handles(IntPtr LibTorchSharp, IntPtr TorchCpu, IntPtr TorchCuda);

    /// <summary>Loads the folder's libraries in dependency order, then the LibTorchSharp with every symbol bound.</summary>
    private static Handles Load(LibTorchFolder folder, string origin, string sharp, bool shipped)
    {
        var order = new List<string> { "libc10.so", "libtorch_cpu.so" };
        if (folder.HasCuda) order.AddRange(["libc10_cuda.so", "libtorch_cuda.so"]);
        order.Add("libtorch.so");
        var handles = new Dictionary<string, IntPtr>(StringComparer.Ordinal);
        foreach (var file in order)
        {
            string path = folder.PathOf(file);
            var h = Dl.Open(path, Dl.Lazy, out var error);
            if (h == IntPtr.Zero) throw new CompressException(ErrorKind.InvalidInput, $"{origin} {folder.LibraryDirectory}: {file} does not load: {Explain(error!, folder.HasCuda && file.Contains("cuda", StringComparison.Ordinal))}");
            handles[file] = h;
        }
        var lts = Dl.Open(sharp, Dl.Now, out var ltsError);
        if (lts == IntPtr.Zero)
        {
            string what = shipped ? $"TorchSharp {TorchSharpVersion}'s LibTorchSharp (built for libtorch {ExpectedLibTorch.MajorMinor})" : sharp;
            string hint = ltsError!.Contains("undefined symbol", StringComparison.Ordinal)
                ? $"; it does not fit libtorch {folder.Version}: build a LibTorchSharp against it with build/gpu-libtorchsharp.sh and set {LibTorchSharpVariable}"
                : "";
            throw new CompressException(ErrorKind.InvalidInput, $"{origin} {folder.LibraryDirectory}: {what} does not load against libtorch {folder.Version}: {Explain(ltsError, false)}{hint}");
        }
        return new Handles(lts, handles["libtorch_cpu.so"], folder.HasCuda ? handles["libtorch_cuda.so"] : IntPtr.Zero);
    }

    /// <summary>The dynamic loader's message on one line, with what it usually means.</summary>
    internal static string Explain(string error, bool cudaLibrary)
    {
        string line = error.ReplaceLineEndings(" ").Trim();
        if (line.Contains("cannot open shared object file", StringComparison.Ordinal))
        {
            // "/path/libtorch_cuda.so: libcudnn.so.9: cannot open shared object file: No such file or directory"
            var parts = line.Split(": ");
            string missing = parts.Length >= 3 ? parts[^3] : line;
            return cudaLibrary
                ? $"a CUDA library it needs is missing: {missing} (a pip install keeps them in site-packages/nvidia/*/lib; a libtorch zip in lib/)"
                : $"a library it needs is missing: {missing}";
        }
        if (line.Contains("GLIBCXX_", StringComparison.Ordinal) || line.Contains("CXXABI_", StringComparison.Ordinal))
            return $"{line} (this system's libstdc++ is older than the one it was built with)";
        return line;
    }
}

/// <summary>A libtorch named at start-up and loaded.</summary>
/// <param name="RequestedPath">The folder as named (full path).</param>
/// <param name="Origin"><c>--libtorch</c> or <c>COMPRESS_LIBTORCH</c>.</param>
/// <param name="Folder">What the folder holds.</param>
/// <param name="LibTorchSharp">The LibTorchSharp loaded.</param>
/// <param name="Shipped">Whether that is the one shipped with compress.</param>
/// <param name="Build">Its build info, if any.</param>
/// <param name="Warnings">Warnings shown at start-up.</param>
public sealed record ExternalLibTorch(string RequestedPath, string Origin, LibTorchFolder Folder, string LibTorchSharp, bool Shipped, LibTorchSharpBuild? Build,
    IReadOnlyList<string> Warnings);
