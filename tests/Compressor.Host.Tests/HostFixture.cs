using System.Diagnostics;
using Compressor.Host.Commands;
using Compressor.Sdk.Checkpoints;
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
        using (var model = TinyModels.Mlp(seed: 21, inputs: 64, hidden: [128, 64], outputs: 10)) ModelIO.Save(model, ModelPath);
        FaultyPlugins = Path.Combine(Root, "faulty-plugins");
        string fixtureOutput = Path.Combine(AppContext.BaseDirectory, "fixture-plugins", "FaultyPlugins");
        AddPlugin(fixtureOutput, "throws-in-ctor", "1.0.0", "FaultyPlugins.ThrowingConstructorPlugin");
        AddPlugin(fixtureOutput, "throws-in-run", "1.0.0", "FaultyPlugins.ThrowingRunPlugin");
        AddPlugin(fixtureOutput, "writes-nan", "1.0.0", "FaultyPlugins.NanPlugin");
        AddPlugin(fixtureOutput, "future-sdk", "2.0.0", "FaultyPlugins.IdentityPlugin");
        AddPlugin(fixtureOutput, "hangs", "1.0.0", "FaultyPlugins.HangingPlugin");
        AddPlugin(fixtureOutput, "slow-cooperative", "1.0.0", "FaultyPlugins.CooperativeSlowPlugin");
        AddPlugin(fixtureOutput, "fake-quant", "1.0.0", "FaultyPlugins.FakeQuantPlugin");
        AddPlugin(fixtureOutput, "ignores-selection", "1.0.0", "FaultyPlugins.IgnoresSelectionPlugin");
        AddPlugin(fixtureOutput, "edits-outside-selection", "1.0.0", "FaultyPlugins.EditsOutsideSelectionPlugin");
        // The same two, declaring "updates": "model" (a plugin that trains the whole model may change any weight, but
        // may still only replace the layers it selected).
        AddPlugin(fixtureOutput, "trains-model-edits", "1.0.0", "FaultyPlugins.EditsOutsideSelectionPlugin", updates: "model");
        AddPlugin(fixtureOutput, "trains-model-replaces", "1.0.0", "FaultyPlugins.IgnoresSelectionPlugin", updates: "model");
        // A corrupt assembly: a manifest naming a file that is not a .NET assembly.
        string corrupt = Directory.CreateDirectory(Path.Combine(FaultyPlugins, "corrupt")).FullName;
        File.WriteAllBytes(Path.Combine(corrupt, "Corrupt.dll"), [0x4D, 0x5A, 0x90, 0x00, 0xDE, 0xAD, 0xBE, 0xEF]);
        File.WriteAllText(Path.Combine(corrupt, "plugin.json"), Manifest("corrupt", "1.0.0", "Corrupt.dll", "Corrupt.Plugin"));
        // No manifest: an assembly alone.
        string bare = Directory.CreateDirectory(Path.Combine(FaultyPlugins, "no-manifest")).FullName;
        File.Copy(Path.Combine(fixtureOutput, "FaultyPlugins.dll"), Path.Combine(bare, "FaultyPlugins.dll"));
    }

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
