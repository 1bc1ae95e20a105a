using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Host.Commands;
using Compressor.Host.Plugins;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>A scratch folder with a tiny model checkpoint, plugin folders built from the faulty fixtures, and
/// helpers to run <c>compress</c> in process (handler tests) or as a real process (exit codes, kills).</summary>
public sealed class HostFixture : IDisposable
{
    public HostFixture()
    {
        Root = Directory.CreateTempSubdirectory("host-tests-").FullName;
        ModelPath = Path.Combine(Root, "mlp.safetensors");
        using (var model = TinyModels.Mlp(seed: 21, inputs: 64, hidden: [128, 64], outputs: 10)) ModelIO.Save((EngineModel)model, ModelPath);
        FaultyPlugins = Path.Combine(Root, "faulty-plugins");
        string fixtureOutput = Path.Combine(AppContext.BaseDirectory, "fixture-plugins", "FaultyPlugins");
        AddPlugin(fixtureOutput, "throws-in-ctor", Sdk, "FaultyPlugins.ThrowingConstructorPlugin");
        AddPlugin(fixtureOutput, "throws-in-run", Sdk, "FaultyPlugins.ThrowingRunPlugin");
        AddPlugin(fixtureOutput, "throws-in-kinds", Sdk, "FaultyPlugins.ThrowingLayerKindsPlugin");
        AddPlugin(fixtureOutput, "duplicate-kind", Sdk, "FaultyPlugins.DuplicateKindPlugin");
        AddPlugin(fixtureOutput, "writes-nan", Sdk, "FaultyPlugins.NanPlugin");
        AddPlugin(fixtureOutput, "resume-probe", Sdk, "FaultyPlugins.ResumeProbePlugin");
        // SDK versions (this host has SDK 2.0.0): another major is refused, a newer minor is refused ("update compress"),
        // the same minor with another patch loads.
        AddPlugin(fixtureOutput, "future-sdk", "3.0.0", "FaultyPlugins.IdentityPlugin");
        AddPlugin(fixtureOutput, "newer-minor-sdk", "2.1.0", "FaultyPlugins.IdentityPlugin");
        AddPlugin(fixtureOutput, "other-patch-sdk", "2.0.7", "FaultyPlugins.IdentityPlugin");
        AddPlugin(fixtureOutput, "hangs", Sdk, "FaultyPlugins.HangingPlugin");
        AddPlugin(fixtureOutput, "slow-cooperative", Sdk, "FaultyPlugins.CooperativeSlowPlugin");
        AddPlugin(fixtureOutput, "fake-quant", Sdk, "FaultyPlugins.FakeQuantPlugin");
        AddPlugin(fixtureOutput, "ignores-selection", Sdk, "FaultyPlugins.IgnoresSelectionPlugin");
        AddPlugin(fixtureOutput, "edits-outside-selection", Sdk, "FaultyPlugins.EditsOutsideSelectionPlugin");
        // The same two, declaring "updates": "model" (a plugin that trains the whole model may change any weight, but
        // may still only replace the layers it selected).
        AddPlugin(fixtureOutput, "trains-model-edits", Sdk, "FaultyPlugins.EditsOutsideSelectionPlugin", updates: "model");
        AddPlugin(fixtureOutput, "trains-model-replaces", Sdk, "FaultyPlugins.IgnoresSelectionPlugin", updates: "model");
        // A corrupt assembly: a manifest naming a file that is not a .NET assembly.
        string corrupt = Directory.CreateDirectory(Path.Combine(FaultyPlugins, "corrupt")).FullName;
        File.WriteAllBytes(Path.Combine(corrupt, "Corrupt.dll"), [0x4D, 0x5A, 0x90, 0x00, 0xDE, 0xAD, 0xBE, 0xEF]);
        File.WriteAllText(Path.Combine(corrupt, "plugin.json"), Manifest("corrupt", Sdk, "Corrupt.dll", "Corrupt.Plugin"));
        // No manifest: an assembly alone.
        string bare = Directory.CreateDirectory(Path.Combine(FaultyPlugins, "no-manifest")).FullName;
        File.Copy(Path.Combine(fixtureOutput, "FaultyPlugins.dll"), Path.Combine(bare, "FaultyPlugins.dll"));
    }

    /// <summary>The SDK version the fixture plugins target: the one they are built against (<see cref="Compressor.Sdk.SdkInfo.Version"/>).</summary>
    public static string Sdk => Compressor.Sdk.SdkInfo.Version;

    private static readonly Lazy<LayerKindSet> BundledKinds = new(() => PluginCatalog.Discover(PluginCatalog.SearchPath([])).Kinds);

    /// <summary>The layer kinds of the layers library and the bundled plugins (what <c>compress</c> beside the tests knows).</summary>
    public static LayerKindSet Kinds => BundledKinds.Value;

    /// <summary>Loads a checkpoint with <see cref="Kinds"/>.</summary>
    public static EngineModel Load(string path, ArchitectureSpec? architecture = null) => ModelIO.Load(path, Kinds, architecture);

    public string Root { get; }
    public string ModelPath { get; }
    public string FaultyPlugins { get; }

    /// <summary>The host assembly beside the tests.</summary>
    public static string HostDll => Path.Combine(AppContext.BaseDirectory, "compress.dll");

    private void AddPlugin(string from, string id, string sdk, string entryType, string? updates = null)
    {
        string dir = Directory.CreateDirectory(Path.Combine(FaultyPlugins, id)).FullName;
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var manifest = JObject.Parse(Manifest(id, sdk, "FaultyPlugins.dll", entryType));
        if (updates is not null) manifest["updates"] = updates;
        File.WriteAllText(Path.Combine(dir, "plugin.json"), manifest.ToString());
    }

    private static string Manifest(string id, string sdk, string assembly, string entry) => new JObject
    {
        ["id"] = id, ["version"] = "0.1.0", ["sdkVersion"] = sdk, ["kind"] = "quantization", ["needs"] = "none",
        ["assembly"] = assembly, ["entryType"] = entry, ["description"] = "test fixture",
    }.ToString();

    public string NewDir(string name) => Directory.CreateDirectory(Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Runs the CLI in process.</summary>
    public static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Runs <c>dotnet compress.dll</c> as a process.</summary>
    public static (int Code, string Out, string Err) Process(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("COMPRESS_PLUGIN_PATH");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("compress did not finish in 120 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
