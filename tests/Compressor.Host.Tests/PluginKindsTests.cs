using Compressor.Engine.Kinds;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Layers;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>Plugins hand their compressed layer kinds to the host: the catalog collects them when it loads the plugins,
/// and every command that loads a checkpoint rebuilds and lowers its layers with the layers library's kinds plus every
/// installed plugin's. A plugin whose kinds cannot be had is malfunctioning, never a crash.</summary>
public sealed class PluginKindsTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static string Format1(string name) => Path.Combine(AppContext.BaseDirectory, "Format1", name + ".safetensors");

    [Fact]
    public void TheRunsKindsAreTheLibrarysAndEveryInstalledPlugins()
    {
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var ids = catalog.Kinds.Ids;
        Assert.All(BuiltInLayerKinds.All, k => Assert.Contains(k.Id, ids));
        Assert.Contains("statsq_linear", ids);
        Assert.Contains("statsq_attention", ids);
        Assert.Equal(BuiltInLayerKinds.All.Count + catalog.Entries.Where(e => e.IsAvailable).Sum(e => e.LayerKinds.Count), catalog.Kinds.Count);
        Assert.Equal(["statsq_attention", "statsq_conv2d", "statsq_linear"], catalog.Find("statsq")!.LayerKinds.Select(k => k.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ExportOfAStatsqCheckpointUsesThePluginsKinds()
    {
        // The library's kinds alone cannot rebuild statsq's layers (the bug of the old export, which loaded no plugin) ...
        string dir = fx.NewDir("statsq-export");
        var e = Assert.Throws<CompressException>(() => new ExportPipeline(new LayerKindSet(BuiltInLayerKinds.All), NullPluginLogger.Instance)
            .Execute(new ExportRequest(Format1("statsq-vit"), Path.Combine(dir, "a.onnx"), null, null), CancellationToken.None));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("unknown compressed layer kind 'statsq_", e.Message);
        // ... the command, with the installed plugins' kinds, can.
        var (code, stdout, stderr) = HostFixture.Cli("export", Format1("statsq-vit"), "--out", Path.Combine(dir, "b.onnx"), "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Contains("verify  ONNX Runtime", stdout);
    }

    [Fact]
    public void APluginWhoseLayerKindsThrowOrClashIsMalfunctioningAndAddsNothing()
    {
        var (code, stdout, _) = HostFixture.Cli("plugin", "list", "--format", "json", "--plugins", fx.FaultyPlugins);
        Assert.Equal(0, code);
        var byId = JObject.Parse(stdout)["plugins"]!.ToDictionary(p => (string)p["id"]!, p => (JObject)p);
        Assert.Equal("malfunctioned", (string?)byId["throws-in-kinds"]["status"]);
        Assert.Equal("FaultyPlugins.ThrowingLayerKindsPlugin.LayerKinds failed: InvalidOperationException: layer kinds exploded on purpose",
            (string?)byId["throws-in-kinds"]["reason"]);
        Assert.Equal("malfunctioned", (string?)byId["duplicate-kind"]["status"]);
        Assert.StartsWith("FaultyPlugins.DuplicateKindPlugin declares an unusable layer kind: compressed layer kind 'quantized_linear' is declared twice: by Compressor.Layers",
            (string?)byId["duplicate-kind"]["reason"]);
        Assert.Equal(new JArray(FaultyKind), byId["fake-quant"]["layerKinds"]);
        Assert.Empty((JArray)byId["duplicate-kind"]["layerKinds"]!);

        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([fx.FaultyPlugins]));
        Assert.Same(typeof(BuiltInLayerKinds).Assembly, catalog.Kinds.Get("quantized_linear").GetType().Assembly);
        foreach (var (id, words) in new[] { ("throws-in-kinds", "malfunctioning"), ("duplicate-kind", "malfunctioning") })
        {
            var run = HostFixture.Cli("run", id, "--model", fx.ModelPath, "--out", fx.NewDir("bad-kinds"), "--plugins", fx.FaultyPlugins, "-v", "q");
            Assert.Equal((int)ExitCode.PluginUnavailable, run.Code);
            Assert.Contains($"plugin '{id}' is {words}", run.Err);
        }
        // The other plugins run as before beside them.
        var ok = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", fx.NewDir("rtn-beside"), "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.True(ok.Code == 0, ok.Err);
    }

    private const string FaultyKind = "fixture_fake_quant_linear";

    [Fact]
    public void EachStepGetsAResumeStoreInItsOwnWorkFolder()
    {
        string work = fx.NewDir("resume-work");
        var (code, _, stderr) = HostFixture.Cli("run", "resume-probe", "--model", fx.ModelPath, "--out", fx.NewDir("resume-out"), "--plugins", fx.FaultyPlugins,
            "--work", work, "-v", "q");
        Assert.Equal((int)ExitCode.PluginFailed, code);
        Assert.Contains("stopped after saving resumable state", stderr);
        string section = Path.Combine(work, "1-resume-probe", "probe");
        Assert.Equal("v1", File.ReadAllText(Path.Combine(section, ".fingerprint")));
        Assert.True(File.Exists(Path.Combine(section, "entry.json")));
        // Each save's tensors go to a file named for that save (KEY.GENERATION.safetensors), committed by entry.json.
        Assert.Single(Directory.GetFiles(section, "entry.*.safetensors"));
    }
}
