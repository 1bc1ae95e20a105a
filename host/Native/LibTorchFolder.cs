using System.Text.RegularExpressions;
using System.Xml.Linq;
using Compressor.Sdk;

namespace Compressor.Host.Native;

/// <summary>A libtorch found on disk and what it is, read from files only (nothing is loaded): where its libraries
/// are, its version and where that was read, whether it is a CUDA build, and a LibTorchSharp beside it if any.
/// <para>The folder given may be the library folder itself or one above it: a PyTorch install's <c>torch/lib</c> (or
/// <c>torch</c>, or <c>site-packages</c>), an extracted libtorch zip's <c>libtorch/lib</c> (or <c>libtorch</c>), a
/// NuGet libtorch package's <c>runtimes/linux-x64/native</c> (or the package version folder).</para>
/// <para>Version sources, every one that exists is read and they must agree: <c>build-version</c> beside
/// <c>lib/</c> (libtorch zips); <c>version.py</c> beside <c>lib/</c> (<c>__version__</c>, and <c>cuda</c> for the CUDA
/// version; pip installs); the <c>Version:</c> line of <c>torch-*.dist-info/METADATA</c> beside the <c>torch</c>
/// folder (pip installs); the <c>TORCH_VERSION_MAJOR/MINOR/PATCH</c> defines of
/// <c>include/torch/csrc/api/include/torch/version.h</c> beside <c>lib/</c> (zips and pip installs that carry
/// headers); the <c>&lt;version&gt;</c> of the package's <c>.nuspec</c> (NuGet). The libraries themselves carry no
/// version string that can be relied on (libtorch 2.10's libtorch_cpu.so has none), so a folder without any of these
/// files needs <see cref="VersionOverrideVariable"/>.</para></summary>
public sealed partial record LibTorchFolder(
    string LibraryDirectory,
    LibTorchLayout Layout,
    LibTorchVersion Version,
    string VersionSource,
    string? CudaVersion,
    bool HasCuda,
    string? LibTorchSharp)
{
    /// <summary>Names a version for a folder that records none (or overrides what it records): e.g. <c>2.10.0+cu128</c>.</summary>
    public const string VersionOverrideVariable = "COMPRESS_LIBTORCH_VERSION";

    /// <summary>The libraries every libtorch has.</summary>
    public static readonly string[] CoreLibraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    /// <summary>The libraries a CUDA build adds.</summary>
    public static readonly string[] CudaLibraries = ["libc10_cuda.so", "libtorch_cuda.so"];

    /// <summary>TorchSharp's native library.</summary>
    public const string LibTorchSharpFile = "libLibTorchSharp.so";

    /// <summary>The full path of library <paramref name="file"/> in this folder.</summary>
    public string PathOf(string file) => Path.Combine(LibraryDirectory, file);

    /// <summary>Inspects <paramref name="path"/> (named by <paramref name="origin"/> in messages, e.g.
    /// <c>COMPRESS_LIBTORCH</c>); <paramref name="versionOverride"/> is <see cref="VersionOverrideVariable"/>'s value.</summary>
    /// <exception cref="CompressException">Not a folder, no libtorch in it, libraries missing, a CUDA build without its
    /// CUDA libraries, no readable version, or sources that disagree (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public static LibTorchFolder Inspect(string path, string origin, string? versionOverride = null)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
            throw Bad(origin, full, File.Exists(full) ? "is a file, not a folder (name the folder that holds libtorch.so)" : "no such folder");
        string lib = FindLibraryDirectory(full)
            ?? throw Bad(origin, full, "holds no libtorch.so (looked in it and in lib/, torch/lib/, runtimes/linux-x64/native/): name a PyTorch install's " +
                                       "torch/lib, an extracted libtorch zip's lib or a NuGet libtorch package's runtimes/linux-x64/native");
        var missing = CoreLibraries.Where(f => !File.Exists(Path.Combine(lib, f))).ToList();
        if (missing.Count > 0) throw Bad(origin, lib, $"is an incomplete libtorch: {string.Join(", ", missing)} missing");

        var (layout, sources) = ReadVersions(lib);
        LibTorchVersion version;
        string source;
        if (!string.IsNullOrWhiteSpace(versionOverride))
        {
            version = LibTorchVersion.TryParse(versionOverride)
                      ?? throw new CompressException(ErrorKind.InvalidInput, $"{VersionOverrideVariable} '{versionOverride}' is not a libtorch version (e.g. 2.10.0+cu128)");
            source = VersionOverrideVariable;
        }
        else
        {
            if (sources.Count == 0)
                throw Bad(origin, lib, "records no libtorch version (looked for build-version, version.py, torch-*.dist-info/METADATA, include/torch/csrc/api/include/torch/version.h, " +
                                       $"a .nuspec): set {VersionOverrideVariable} to the version it holds (e.g. 2.10.0+cu128)");
            var first = sources[0];
            foreach (var other in sources.Skip(1))
                if (!other.Version.SameMinor(first.Version))
                    throw Bad(origin, lib, $"records two libtorch versions: {first.Version} in {first.File} and {other.Version} in {other.File}");
            // The most specific text (the one with a local part such as +cu128, if any source has it).
            var specific = sources.FirstOrDefault(s => s.Version.Local is not null) ?? first;
            version = specific.Version;
            source = specific.File;
        }

        bool hasCudaLibraries = CudaLibraries.Any(f => File.Exists(Path.Combine(lib, f)));
        string? cuda = sources.Select(s => s.Cuda).FirstOrDefault(c => c is not null) ?? version.CudaFromLocal;
        if (hasCudaLibraries)
        {
            var cudaMissing = CudaLibraries.Where(f => !File.Exists(Path.Combine(lib, f))).ToList();
            if (cudaMissing.Count > 0) throw Bad(origin, lib, $"is an incomplete CUDA libtorch: {string.Join(", ", cudaMissing)} missing");
        }
        else if (cuda is not null)
        {
            throw Bad(origin, lib, $"is libtorch {version} (CUDA {cuda}) but its CUDA libraries are missing: {string.Join(", ", CudaLibraries)}");
        }
        string? sharp = File.Exists(Path.Combine(lib, LibTorchSharpFile)) ? Path.Combine(lib, LibTorchSharpFile) : null;
        return new LibTorchFolder(lib, layout, version, source, hasCudaLibraries ? cuda : null, hasCudaLibraries, sharp);
    }

    /// <summary>The folder holding libtorch.so: <paramref name="dir"/> itself or a known place below it.</summary>
    private static string? FindLibraryDirectory(string dir)
    {
        string[] candidates =
        [
            dir,
            Path.Combine(dir, "lib"),
            Path.Combine(dir, "torch", "lib"),
            Path.Combine(dir, "runtimes", "linux-x64", "native"),
            Path.Combine(dir, "libtorch", "lib"),
        ];
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "libtorch.so")));
    }

    private sealed record Recorded(LibTorchVersion Version, string File, string? Cuda);

    /// <summary>Every version the files around <paramref name="lib"/> record, most specific layout first.</summary>
    private static (LibTorchLayout Layout, List<Recorded> Sources) ReadVersions(string lib)
    {
        var sources = new List<Recorded>();
        var layout = LibTorchLayout.Plain;
        string? parent = Path.GetDirectoryName(lib);
        if (parent is not null)
        {
            // libtorch zip: libtorch/build-version next to libtorch/lib.
            string buildVersion = Path.Combine(parent, "build-version");
            if (File.Exists(buildVersion) && LibTorchVersion.TryParse(ReadSmall(buildVersion).Split('\n')[0]) is { } bv)
            {
                sources.Add(new(bv, buildVersion, null));
                layout = LibTorchLayout.LibTorchZip;
            }
            // pip: torch/version.py next to torch/lib.
            string versionPy = Path.Combine(parent, "version.py");
            if (File.Exists(versionPy))
            {
                string text = ReadSmall(versionPy);
                if (PyVersion().Match(text) is { Success: true } m && LibTorchVersion.TryParse(m.Groups[1].Value) is { } pv)
                {
                    string? cuda = PyCuda().Match(text) is { Success: true } c ? c.Groups[1].Value : null;
                    sources.Add(new(pv, versionPy, cuda));
                    layout = LibTorchLayout.PythonPackage;
                }
            }
            // pip: site-packages/torch-*.dist-info/METADATA next to site-packages/torch.
            if (Path.GetFileName(parent) == "torch" && Path.GetDirectoryName(parent) is { } sitePackages && Directory.Exists(sitePackages))
            {
                foreach (var info in Directory.GetDirectories(sitePackages, "torch-*.dist-info").Order(StringComparer.Ordinal))
                {
                    string metadata = Path.Combine(info, "METADATA");
                    if (!File.Exists(metadata)) continue;
                    if (MetadataVersion().Match(ReadSmall(metadata)) is { Success: true } m && LibTorchVersion.TryParse(m.Groups[1].Value) is { } mv)
                    {
                        sources.Add(new(mv, metadata, null));
                        layout = LibTorchLayout.PythonPackage;
                    }
                }
            }
            // Headers (zips, pip installs): include/torch/csrc/api/include/torch/version.h next to lib.
            string header = Path.Combine(parent, "include", "torch", "csrc", "api", "include", "torch", "version.h");
            if (File.Exists(header))
            {
                string text = ReadSmall(header);
                var parts = new[] { "MAJOR", "MINOR", "PATCH" }.Select(p => Regex.Match(text, $@"#define\s+TORCH_VERSION_{p}\s+(\d+)")).ToList();
                if (parts[0].Success && parts[1].Success && LibTorchVersion.TryParse(string.Join('.', parts.Where(p => p.Success).Select(p => p.Groups[1].Value))) is { } hv)
                    sources.Add(new(hv, header, null));
            }
            // NuGet: <id>/<version>/runtimes/linux-x64/native, with <id>/<version>/<id>.nuspec.
            if (Path.GetFileName(lib) == "native" && Path.GetDirectoryName(Path.GetDirectoryName(parent)) is { } packageVersion && Directory.Exists(packageVersion))
            {
                foreach (var nuspec in Directory.GetFiles(packageVersion, "*.nuspec").Order(StringComparer.Ordinal))
                {
                    try
                    {
                        var doc = XDocument.Parse(ReadSmall(nuspec));
                        var meta = doc.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata");
                        string? id = meta?.Elements().FirstOrDefault(e => e.Name.LocalName == "id")?.Value;
                        string? v = meta?.Elements().FirstOrDefault(e => e.Name.LocalName == "version")?.Value;
                        if (id is null || !id.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || LibTorchVersion.TryParse(v) is not { } nv) continue;
                        string? cuda = NuGetCuda().Match(id) is { Success: true } c ? c.Groups[1].Value : null;
                        sources.Add(new(nv, nuspec, cuda));
                        layout = LibTorchLayout.NuGetPackage;
                    }
                    catch (System.Xml.XmlException)
                    {
                        // Not a nuspec we can read: it records nothing.
                    }
                }
            }
        }
        return (layout, sources);
    }

    /// <summary>A metadata file's text (at most 1 MiB: these files are a few KiB; a larger one is not what we look for).</summary>
    private static string ReadSmall(string file)
    {
        using var stream = File.OpenRead(file);
        var buffer = new byte[(int)Math.Min(stream.Length, 1 << 20)];
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, read).TrimStart('\uFEFF');   // NuGet writes its nuspec with a byte-order mark
    }

    private static CompressException Bad(string origin, string path, string problem) =>
        new(ErrorKind.InvalidInput, $"{origin} {path}: {problem}");

    [GeneratedRegex(@"^__version__\s*(?::\s*\w+\s*)?=\s*['""]([^'""]+)['""]", RegexOptions.Multiline)]
    private static partial Regex PyVersion();

    [GeneratedRegex(@"^cuda\s*(?::\s*[\w\[\]]+\s*)?=\s*['""]([^'""]+)['""]", RegexOptions.Multiline)]
    private static partial Regex PyCuda();

    [GeneratedRegex(@"^Version:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex MetadataVersion();

    [GeneratedRegex(@"cuda-(\d+\.\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex NuGetCuda();
}
