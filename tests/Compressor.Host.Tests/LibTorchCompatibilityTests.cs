using Compressor.Host.Native;
using Compressor.Sdk;

namespace Compressor.Host.Tests;

/// <summary>The version rule between a libtorch folder and the LibTorchSharp that binds TorchSharp to it.</summary>
public sealed class LibTorchCompatibilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lts-compat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly LibTorchVersion Expected = new(2, 10, 0, "2.10.0");

    private static LibTorchFolder Folder(string version) =>
        new("/opt/venv/site-packages/torch/lib", LibTorchLayout.PythonPackage, LibTorchVersion.TryParse(version)!, "version.py", "12.8", true, null);

    private string Sharp(string? info)
    {
        string file = Path.Combine(_dir, $"{Guid.NewGuid():N}-libLibTorchSharp.so");
        File.WriteAllBytes(file, []);
        if (info is not null) File.WriteAllText(LibTorchSharpBuild.InfoFileOf(file), info);
        return file;
    }

    [Fact]
    public void TheShippedLibTorchSharpTakesItsOwnMinorVersion()
    {
        Assert.Empty(LibTorchCompatibility.Check(Folder("2.10.0+cu128"), "COMPRESS_LIBTORCH", "shipped", true, null, true, Expected, "0.107.0"));
        Assert.Empty(LibTorchCompatibility.Check(Folder("2.10.3+cu126"), "COMPRESS_LIBTORCH", "shipped", true, null, true, Expected, "0.107.0"));
        var e = Assert.Throws<CompressException>(() => LibTorchCompatibility.Check(Folder("2.11.0+cu128"), "COMPRESS_LIBTORCH", "shipped", true, null, true, Expected, "0.107.0"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("holds libtorch 2.11.0+cu128, but this compress (TorchSharp 0.107.0) was built for libtorch 2.10", e.Message);
        Assert.Contains("build/gpu-libtorchsharp.sh", e.Message);
    }

    [Fact]
    public void TurningTheCheckOffLoadsWithAWarning()
    {
        var warnings = LibTorchCompatibility.Check(Folder("2.11.0+cu128"), "--libtorch", "shipped", true, null, versionCheck: false, Expected, "0.107.0");
        Assert.Contains("COMPRESS_LIBTORCH_VERSION_CHECK=off", Assert.Single(warnings));
    }

    [Fact]
    public void ABuiltLibTorchSharpMustNameThisTorchSharpAndTheFoldersMinorVersion()
    {
        var folder = Folder("2.11.0+cu128");
        string good = Sharp("torchsharp=0.107.0\nlibtorch=2.11.0+cu128\nsource=c20b6a1c\n");
        Assert.Empty(LibTorchCompatibility.Check(folder, "COMPRESS_LIBTORCH", good, false, LibTorchSharpBuild.Read(good), true, Expected, "0.107.0"));

        string otherTorchSharp = Sharp("torchsharp=0.106.0\nlibtorch=2.11.0\n");
        Assert.Contains("was built from TorchSharp 0.106.0's sources, but compress uses TorchSharp 0.107.0",
            Assert.Throws<CompressException>(() => LibTorchCompatibility.Check(folder, "COMPRESS_LIBTORCH", otherTorchSharp, false, LibTorchSharpBuild.Read(otherTorchSharp), true, Expected, "0.107.0")).Message);

        string otherLibTorch = Sharp("torchsharp=0.107.0\nlibtorch=2.10.0\n");
        Assert.Contains("was built for libtorch 2.10.0, but COMPRESS_LIBTORCH /opt/venv/site-packages/torch/lib holds libtorch 2.11.0+cu128",
            Assert.Throws<CompressException>(() => LibTorchCompatibility.Check(folder, "COMPRESS_LIBTORCH", otherLibTorch, false, LibTorchSharpBuild.Read(otherLibTorch), true, Expected, "0.107.0")).Message);
    }

    [Fact]
    public void ALibTorchSharpWithoutBuildInfoLoadsWithAWarning()
    {
        string bare = Sharp(null);
        Assert.Null(LibTorchSharpBuild.Read(bare));
        Assert.Contains("has no build info", Assert.Single(LibTorchCompatibility.Check(Folder("2.11.0"), "COMPRESS_LIBTORCH", bare, false, null, true, Expected, "0.107.0")));
        Assert.Null(LibTorchSharpBuild.Read(Sharp("torchsharp=0.107.0\n")));   // no libtorch line: not build info
    }
}
