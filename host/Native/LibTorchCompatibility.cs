using Compressor.Sdk;

namespace Compressor.Host.Native;

/// <summary>The rule for running a libtorch that is not the bundled one: the LibTorchSharp that binds TorchSharp to
/// it must have been built for its major.minor version (libtorch's C++ ABI changes between minor versions).
/// <list type="bullet">
/// <item>TorchSharp's own LibTorchSharp (shipped with compress) was built for <see cref="NativeBackend.ExpectedLibTorch"/>:
/// a libtorch of another minor version is refused, unless the check is turned off
/// (<see cref="NativeBackend.VersionCheckVariable"/>=off, for probing: the load then still refuses a library whose
/// symbols do not resolve, and a warning says so).</item>
/// <item>A LibTorchSharp built by <c>build/gpu-libtorchsharp.sh</c> carries a build-info file: it must name the
/// TorchSharp version compress uses (its entry points are those that TorchSharp calls) and the folder's libtorch minor
/// version.</item>
/// <item>Another LibTorchSharp without build info is loaded with a warning (only its symbols are checked).</item>
/// </list></summary>
public static class LibTorchCompatibility
{
    /// <summary>Applies the rule; returns the warnings to show.</summary>
    /// <param name="folder">The libtorch found.</param>
    /// <param name="origin">How it was named (COMPRESS_LIBTORCH or --libtorch), for messages.</param>
    /// <param name="libTorchSharp">The LibTorchSharp to load.</param>
    /// <param name="shipped">Whether it is the one shipped with compress.</param>
    /// <param name="build">Its build info (a LibTorchSharp that is not shipped), or null.</param>
    /// <param name="versionCheck">False when the version check is turned off.</param>
    /// <param name="expected">What the shipped LibTorchSharp was built for.</param>
    /// <param name="torchSharpVersion">The TorchSharp version compress uses.</param>
    /// <exception cref="CompressException">The versions do not fit (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public static IReadOnlyList<string> Check(LibTorchFolder folder, string origin, string libTorchSharp, bool shipped, LibTorchSharpBuild? build,
        bool versionCheck, LibTorchVersion expected, string torchSharpVersion)
    {
        var warnings = new List<string>();
        if (shipped)
        {
            if (!folder.Version.SameMinor(expected))
            {
                string problem = $"{origin} {folder.LibraryDirectory} holds libtorch {folder.Version}, but this compress (TorchSharp {torchSharpVersion}) was built for libtorch " +
                                 $"{expected.MajorMinor}: name a libtorch {expected.MajorMinor} folder, or build a LibTorchSharp for {folder.Version.MajorMinor} with " +
                                 $"build/gpu-libtorchsharp.sh and set {NativeBackend.LibTorchSharpVariable} (docs/packaging.md, \"GPU\")";
                if (versionCheck) throw new CompressException(ErrorKind.InvalidInput, problem);
                warnings.Add($"{NativeBackend.VersionCheckVariable}=off: loading TorchSharp's LibTorchSharp (built for libtorch {expected.MajorMinor}) against libtorch {folder.Version}; " +
                             "its symbols resolve, but types may differ between minor versions: results are not to be trusted until checked");
            }
            return warnings;
        }
        if (build is null)
        {
            warnings.Add($"{libTorchSharp} has no build info ({Path.GetFileName(LibTorchSharpBuild.InfoFileOf(libTorchSharp))}): cannot tell which TorchSharp and libtorch it was built for; only its symbols are checked");
            return warnings;
        }
        if (!build.IsFor(torchSharpVersion))
            throw new CompressException(ErrorKind.InvalidInput,
                $"{libTorchSharp} was built from TorchSharp {build.TorchSharp}'s sources, but compress uses TorchSharp {torchSharpVersion}: rebuild it from the {torchSharpVersion} sources (build/gpu-libtorchsharp.sh)");
        if (!build.LibTorch.SameMinor(folder.Version))
        {
            string problem = $"{libTorchSharp} was built for libtorch {build.LibTorch}, but {origin} {folder.LibraryDirectory} holds libtorch {folder.Version}: rebuild it against that libtorch (build/gpu-libtorchsharp.sh)";
            if (versionCheck) throw new CompressException(ErrorKind.InvalidInput, problem);
            warnings.Add($"{NativeBackend.VersionCheckVariable}=off: {problem}");
        }
        return warnings;
    }
}
