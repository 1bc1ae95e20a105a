using Compressor.Host.Native;
using Compressor.Sdk;

namespace Compressor.Host.Tests;

/// <summary>Recognising a libtorch folder from files alone, on fake folders (empty files with libtorch's names and
/// the version files each layout carries): the three layouts and the headers, which sources win and must agree, and
/// every way a folder is unusable (one message each, kind InvalidInput → exit 3).</summary>
public sealed class LibTorchFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("libtorch-folder-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Dir(params string[] parts)
    {
        var d = Path.Combine([_root, .. parts]);
        Directory.CreateDirectory(d);
        return d;
    }

    private static void Touch(string dir, params string[] files)
    {
        foreach (var f in files) File.WriteAllBytes(Path.Combine(dir, f), []);
    }

    private static void Libraries(string dir, bool cuda)
    {
        Touch(dir, LibTorchFolder.CoreLibraries);
        if (cuda) Touch(dir, LibTorchFolder.CudaLibraries);
    }

    /// <summary>A pip install: site-packages/torch/{lib, version.py} and site-packages/torch-V.dist-info/METADATA.</summary>
    private string PipInstall(string version, string? cuda, bool cudaLibraries, string? metadataVersion = null)
    {
        string sitePackages = Dir("venv", "lib", "python3.12", "site-packages");
        string lib = Dir("venv", "lib", "python3.12", "site-packages", "torch", "lib");
        Libraries(lib, cudaLibraries);
        File.WriteAllText(Path.Combine(sitePackages, "torch", "version.py"),
            "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n" +
            $"__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {(cuda is null ? "None" : $"'{cuda}'")}\ngit_version = 'abc'\nhip: Optional[str] = None\n");
        string info = Directory.CreateDirectory(Path.Combine(sitePackages, $"torch-{metadataVersion ?? version}.dist-info")).FullName;
        File.WriteAllText(Path.Combine(info, "METADATA"), $"Metadata-Version: 2.1\nName: torch\nVersion: {metadataVersion ?? version}\nSummary: Tensors and Dynamic neural networks\n");
        return lib;
    }

    [Fact]
    public void APipInstallIsReadFromVersionPyAndItsMetadata()
    {
        string lib = PipInstall("2.11.0+cu128", "12.8", cudaLibraries: true);
        // Named by the torch folder, the library folder or site-packages: the same libtorch.
        foreach (var named in new[] { lib, Path.GetDirectoryName(lib)!, Path.GetDirectoryName(Path.GetDirectoryName(lib))! })
        {
            var f = LibTorchFolder.Inspect(named, "COMPRESS_LIBTORCH");
            Assert.Equal(lib, f.LibraryDirectory);
            Assert.Equal(LibTorchLayout.PythonPackage, f.Layout);
            Assert.Equal("2.11.0+cu128", f.Version.Text);
            Assert.Equal((2, 11), (f.Version.Major, f.Version.Minor));
            Assert.True(f.HasCuda);
            Assert.Equal("12.8", f.CudaVersion);
            Assert.EndsWith("version.py", f.VersionSource);
            Assert.Null(f.LibTorchSharp);
        }
    }

    [Fact]
    public void ALibTorchZipIsReadFromBuildVersionAndItsHeaders()
    {
        string root = Dir("libtorch");
        string lib = Dir("libtorch", "lib");
        Libraries(lib, cuda: true);
        File.WriteAllText(Path.Combine(root, "build-version"), "2.10.0+cu128\n");
        string include = Dir("libtorch", "include", "torch", "csrc", "api", "include", "torch");
        File.WriteAllText(Path.Combine(include, "version.h"), "#pragma once\n#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 10\n#define TORCH_VERSION_PATCH 0\n#define TORCH_VERSION \"2.10.0\"\n");
        var f = LibTorchFolder.Inspect(root, "--libtorch");
        Assert.Equal(lib, f.LibraryDirectory);
        Assert.Equal(LibTorchLayout.LibTorchZip, f.Layout);
        Assert.Equal("2.10.0+cu128", f.Version.Text);
        Assert.Equal("12.8", f.CudaVersion);   // from the +cu128 tag
        Assert.True(f.Version.SameMinor(NativeBackend.ExpectedLibTorch));
    }

    [Fact]
    public void ANuGetPackageIsReadFromItsNuspec()
    {
        string version = Dir("nuget", "libtorch-cuda-12.8-linux-x64", "2.10.0");
        string native = Dir("nuget", "libtorch-cuda-12.8-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
        Libraries(native, cuda: true);
        File.WriteAllText(Path.Combine(version, "libtorch-cuda-12.8-linux-x64.nuspec"),
            "\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd\"><metadata>" +
            "<id>libtorch-cuda-12.8-linux-x64</id><version>2.10.0</version></metadata></package>");
        var f = LibTorchFolder.Inspect(version, "COMPRESS_LIBTORCH");
        Assert.Equal(native, f.LibraryDirectory);
        Assert.Equal(LibTorchLayout.NuGetPackage, f.Layout);
        Assert.Equal("2.10.0", f.Version.Text);
        Assert.Equal("12.8", f.CudaVersion);   // from the package id
    }

    [Fact]
    public void ALibTorchSharpBesideTheLibrariesIsFound()
    {
        string lib = PipInstall("2.11.0+cu128", "12.8", cudaLibraries: true);
        Touch(lib, LibTorchFolder.LibTorchSharpFile);
        Assert.Equal(Path.Combine(lib, LibTorchFolder.LibTorchSharpFile), LibTorchFolder.Inspect(lib, "COMPRESS_LIBTORCH").LibTorchSharp);
    }

    [Fact]
    public void ACpuBuildHasNoCuda()
    {
        string lib = PipInstall("2.10.0+cpu", null, cudaLibraries: false);
        var f = LibTorchFolder.Inspect(lib, "COMPRESS_LIBTORCH");
        Assert.False(f.HasCuda);
        Assert.Null(f.CudaVersion);
    }

    [Fact]
    public void TheVersionOverrideNamesTheVersionOfAPlainFolder()
    {
        string lib = Dir("plain");
        Libraries(lib, cuda: true);
        var e = Assert.Throws<CompressException>(() => LibTorchFolder.Inspect(lib, "COMPRESS_LIBTORCH"));
        Assert.Contains("records no libtorch version", e.Message);
        Assert.Contains(LibTorchFolder.VersionOverrideVariable, e.Message);
        var f = LibTorchFolder.Inspect(lib, "COMPRESS_LIBTORCH", versionOverride: "2.10.0+cu128");
        Assert.Equal(LibTorchLayout.Plain, f.Layout);
        Assert.Equal("2.10.0+cu128", f.Version.Text);
        Assert.Equal(LibTorchFolder.VersionOverrideVariable, f.VersionSource);
        Assert.Equal("12.8", f.CudaVersion);
        Assert.Contains("is not a libtorch version", Assert.Throws<CompressException>(() => LibTorchFolder.Inspect(lib, "COMPRESS_LIBTORCH", versionOverride: "latest")).Message);
    }

    public static TheoryData<string, string> Unusable => new()
    {
        { "missing", "no such folder" },
        { "empty", "holds no libtorch.so" },
        { "no-c10", "incomplete libtorch: libc10.so missing" },
        { "cuda-tag-no-cuda-libraries", "but its CUDA libraries are missing: libc10_cuda.so, libtorch_cuda.so" },
        { "half-cuda", "incomplete CUDA libtorch: libc10_cuda.so missing" },
        { "disagreeing", "records two libtorch versions: 2.11.0+cu128 in" },
        { "file", "is a file, not a folder" },
    };

    [Theory]
    [MemberData(nameof(Unusable))]
    public void AnUnusableFolderIsOneErrorOfKindInvalidInput(string name, string message)
    {
        string path = Path.Combine(_root, name);
        switch (name)
        {
            case "empty":
                Dir(name);
                break;
            case "no-c10":
                Touch(Dir(name), "libtorch.so", "libtorch_cpu.so");
                break;
            case "cuda-tag-no-cuda-libraries":
                path = PipInstall("2.10.0+cu128", "12.8", cudaLibraries: false);
                break;
            case "half-cuda":
                path = PipInstall("2.10.0+cu128", "12.8", cudaLibraries: false);
                Touch(path, "libtorch_cuda.so");
                break;
            case "disagreeing":
                path = PipInstall("2.11.0+cu128", "12.8", cudaLibraries: true, metadataVersion: "2.10.0");
                break;
            case "file":
                File.WriteAllText(path, "not a folder");
                break;
        }
        var e = Assert.Throws<CompressException>(() => LibTorchFolder.Inspect(path, "COMPRESS_LIBTORCH"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(message, e.Message);
        Assert.StartsWith("COMPRESS_LIBTORCH ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("2.10.0", 2, 10, 0, null, null)]
    [InlineData("2.11.0+cu128", 2, 11, 0, "cu128", "12.8")]
    [InlineData("2.12.0.dev20260301+cu130", 2, 12, 0, "cu130", "13.0")]
    [InlineData("2.10.1+cpu", 2, 10, 1, "cpu", null)]
    [InlineData(" 2.9 \n", 2, 9, 0, null, null)]
    public void VersionsParseAsTheBuildsSpellThem(string text, int major, int minor, int patch, string? local, string? cuda)
    {
        var v = LibTorchVersion.TryParse(text)!;
        Assert.Equal((major, minor, patch, local, cuda), (v.Major, v.Minor, v.Patch, v.Local, v.CudaFromLocal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("latest")]
    [InlineData("v2.10")]
    [InlineData("2")]
    public void NonVersionsDoNotParse(string text) => Assert.Null(LibTorchVersion.TryParse(text));

    /// <summary>The constant the start-up check compares with is the libtorch TorchSharp reports (reading it needs the
    /// native library, which the check must not load).</summary>
    [Fact]
    public void TheExpectedVersionIsTorchSharpsOwn()
    {
        var own = LibTorchVersion.TryParse(TorchSharp.torch.__version__)!;
        Assert.True(own.SameMinor(NativeBackend.ExpectedLibTorch), $"TorchSharp reports libtorch {TorchSharp.torch.__version__}, NativeBackend expects {NativeBackend.ExpectedLibTorch}");
        Assert.Equal(own.Patch, NativeBackend.ExpectedLibTorch.Patch);
    }
}
