using System.Diagnostics;
using Compressor.Host.Native;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>The executable with <c>COMPRESS_LIBTORCH</c> / <c>--libtorch</c> (each case a fresh process: the libtorch
/// is chosen before TorchSharp loads): the device line of <c>--version</c> and <c>plugin list</c>; a real libtorch
/// named as a folder — the NuGet CPU libtorch package this repository restores, the same 2.10 build — loaded from
/// there (the process's mapped libtorch_cpu.so is the package's) and running a plugin end to end; and unusable folders
/// refused with one <c>error:</c> line and exit code 3 before anything runs.</summary>
public sealed class LibTorchProcessTests(HostFixture fx) : IClassFixture<HostFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("libtorch-process-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(IDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(HostFixture.HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("COMPRESS_PLUGIN_PATH");
        foreach (var name in new[] { NativeBackend.EnvironmentVariable, NativeBackend.LibTorchSharpVariable, NativeBackend.VersionCheckVariable, LibTorchFolder.VersionOverrideVariable })
            psi.Environment.Remove(name);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("compress did not finish in 180 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The restored NuGet package libtorch-cpu-linux-x64 (the version TorchSharp was built for): a real
    /// libtorch in a folder of its own, outside compress's output.</summary>
    private static string NuGetLibTorch()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string version = $"{NativeBackend.ExpectedLibTorch.Major}.{NativeBackend.ExpectedLibTorch.Minor}.{NativeBackend.ExpectedLibTorch.Patch}";
        string dir = Path.Combine(packages, "libtorch-cpu-linux-x64", version);
        Assert.True(File.Exists(Path.Combine(dir, "runtimes", "linux-x64", "native", "libtorch_cpu.so")), $"the restored libtorch-cpu-linux-x64 {version} package is not at {dir}");
        return dir;
    }

    [Fact]
    public void VersionAndPluginListShowTheDeviceLine()
    {
        var (code, stdout, stderr) = Run(new Dictionary<string, string?>(), "--version");
        Assert.True(code == 0, stderr);
        var lines = stdout.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("compress ", lines[0]);
        Assert.Equal($"device: cpu (libtorch {NativeBackend.ExpectedLibTorch.Text}, bundled; no CUDA)", lines[1]);
        var list = Run(new Dictionary<string, string?>(), "plugin", "list");
        Assert.Equal(0, list.Code);
        Assert.Contains($"device: cpu (libtorch {NativeBackend.ExpectedLibTorch.Text}, bundled; no CUDA)", list.Out);
    }

    [Fact]
    public void ANamedLibTorchIsLoadedFromItsFolderAndRuns()
    {
        string package = NuGetLibTorch();
        string native = Path.Combine(package, "runtimes", "linux-x64", "native");
        var env = new Dictionary<string, string?> { [NativeBackend.EnvironmentVariable] = package };
        var (code, stdout, stderr) = Run(env, "plugin", "list", "--format", "json");
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        var device = (JObject)JObject.Parse(stdout)["device"]!;
        Assert.Equal("cpu", (string?)device["type"]);
        Assert.Equal("COMPRESS_LIBTORCH", (string?)device["source"]);
        Assert.Equal(NativeBackend.ExpectedLibTorch.Text, (string?)device["libTorch"]);
        // Where libtorch_cpu.so was mapped from: the package folder, not the bundled copy beside compress.
        Assert.Equal(native, (string?)device["libTorchDirectory"]);
        Assert.NotEqual(Path.GetDirectoryName(HostFixture.HostDll), (string?)device["libTorchDirectory"]);

        // --libtorch names the same (--version takes no other option: plugin list shows the line too); a plugin runs on
        // it end to end (load, quantize, export, verify on ORT).
        var list = Run(new Dictionary<string, string?>(), "--libtorch", native, "plugin", "list");
        Assert.True(list.Code == 0, list.Err);
        Assert.Contains($"device: cpu (libtorch {NativeBackend.ExpectedLibTorch.Text}, from {native} via --libtorch; no CUDA)", list.Out);
        var run = Run(env, "run", "rtn", "--model", fx.ModelPath, "--out", Path.Combine(_dir, "rtn"), "-v", "q");
        Assert.True(run.Code == 0, run.Err);
        Assert.True(File.Exists(Path.Combine(_dir, "rtn", "model.onnx")));
    }

    /// <summary>A folder whose version files say one thing and whose libraries cannot serve: one line, exit 3, and
    /// nothing run (not even --version).</summary>
    [Fact]
    public void UnusableFoldersAreOneErrorLineAndExitThree()
    {
        // A pip install of libtorch 2.11 with CUDA: the shipped LibTorchSharp was built for 2.10.
        string newer = Directory.CreateDirectory(Path.Combine(_dir, "site-packages", "torch", "lib")).FullName;
        foreach (var f in LibTorchFolder.CoreLibraries.Concat(LibTorchFolder.CudaLibraries)) File.WriteAllBytes(Path.Combine(newer, f), []);
        File.WriteAllText(Path.Combine(_dir, "site-packages", "torch", "version.py"), "__version__ = '2.11.0+cu128'\ncuda: Optional[str] = '12.8'\n");
        // A libtorch zip of the right version whose CUDA libraries are missing.
        string noCuda = Directory.CreateDirectory(Path.Combine(_dir, "libtorch", "lib")).FullName;
        foreach (var f in LibTorchFolder.CoreLibraries) File.WriteAllBytes(Path.Combine(noCuda, f), []);
        File.WriteAllText(Path.Combine(_dir, "libtorch", "build-version"), "2.10.0+cu128\n");
        // The right version, files that are not libraries.
        string fake = Directory.CreateDirectory(Path.Combine(_dir, "fake", "lib")).FullName;
        foreach (var f in LibTorchFolder.CoreLibraries) File.WriteAllText(Path.Combine(fake, f), "not an ELF file");
        File.WriteAllText(Path.Combine(_dir, "fake", "build-version"), "2.10.0+cpu\n");

        var cases = new (string[] Args, Dictionary<string, string?> Env, string Message)[]
        {
            (["--version"], new() { [NativeBackend.EnvironmentVariable] = newer }, "holds libtorch 2.11.0+cu128, but this compress (TorchSharp 0.107.0) was built for libtorch 2.10"),
            (["plugin", "list"], new() { [NativeBackend.EnvironmentVariable] = Path.Combine(_dir, "libtorch") }, "is libtorch 2.10.0+cu128 (CUDA 12.8) but its CUDA libraries are missing"),
            (["--libtorch", Path.Combine(_dir, "nowhere"), "plugin", "list"], new(), "--libtorch " + Path.Combine(_dir, "nowhere") + ": no such folder"),
            (["--version"], new() { [NativeBackend.EnvironmentVariable] = Path.Combine(_dir, "fake") }, "libc10.so does not load"),
            (["--version"], new() { [NativeBackend.EnvironmentVariable] = NuGetLibTorch(), [NativeBackend.LibTorchSharpVariable] = Path.Combine(_dir, "none") }, "COMPRESS_LIBTORCHSHARP"),
        };
        foreach (var (args, env, message) in cases)
        {
            var (code, stdout, stderr) = Run(env, args);
            Assert.True(code == 3, $"{string.Join(' ', args)}: exit {code}, stderr {stderr}");
            Assert.Equal("", stdout);
            var lines = stderr.TrimEnd('\n').Split('\n');
            Assert.True(lines.Length == 1, $"more than one line: {stderr}");
            Assert.StartsWith("error: ", lines[0]);
            Assert.Contains(message, lines[0]);
        }
    }

    /// <summary>--help needs no libtorch: a broken COMPRESS_LIBTORCH does not stop it.</summary>
    [Fact]
    public void HelpIgnoresTheLibTorchFolder()
    {
        var (code, stdout, _) = Run(new Dictionary<string, string?> { [NativeBackend.EnvironmentVariable] = Path.Combine(_dir, "nowhere") }, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--libtorch", stdout);
    }
}
