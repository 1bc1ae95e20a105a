using System.Globalization;

namespace Compressor.Host.Native;

/// <summary>What a LibTorchSharp built by <c>build/gpu-libtorchsharp.sh</c> was built from, read from the
/// <c>libLibTorchSharp.so.build-info</c> file written beside it: <c>key=value</c> lines, of which
/// <c>torchsharp=</c> (the TorchSharp version whose native sources were compiled) and <c>libtorch=</c> (the libtorch
/// version whose headers and libraries it was compiled and linked against) are read.</summary>
/// <param name="TorchSharp">The TorchSharp version of the sources, e.g. <c>0.107.0</c>.</param>
/// <param name="LibTorch">The libtorch it was built against.</param>
/// <param name="File">The build-info file.</param>
public sealed record LibTorchSharpBuild(string TorchSharp, LibTorchVersion LibTorch, string File)
{
    /// <summary>The build-info file of a LibTorchSharp library.</summary>
    public static string InfoFileOf(string library) => library + ".build-info";

    /// <summary>The build info beside <paramref name="library"/>, or null when there is none or it lacks a field.</summary>
    public static LibTorchSharpBuild? Read(string library)
    {
        string file = InfoFileOf(library);
        if (!System.IO.File.Exists(file) || new FileInfo(file).Length > 64 * 1024) return null;
        var values = System.IO.File.ReadAllLines(file)
            .Select(l => l.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0].Trim().ToLowerInvariant(), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last()[1].Trim(), StringComparer.Ordinal);
        if (!values.TryGetValue("torchsharp", out var ts) || ts.Length == 0) return null;
        if (!values.TryGetValue("libtorch", out var lt) || LibTorchVersion.TryParse(lt) is not { } version) return null;
        return new LibTorchSharpBuild(ts, version, file);
    }

    /// <summary>Whether the sources were those of TorchSharp <paramref name="version"/> (same major.minor.patch: the
    /// managed TorchSharp calls exactly the entry points its own native sources define).</summary>
    public bool IsFor(string version) => Normalise(TorchSharp) == Normalise(version);

    private static string Normalise(string v)
    {
        var parts = v.Split('+', '-')[0].Split('.').Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1).ToList();
        while (parts.Count < 3) parts.Add(0);
        return string.Join('.', parts.Take(3));
    }
}
