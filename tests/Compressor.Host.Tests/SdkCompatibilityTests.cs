using Compressor.Host.Plugins;
using Compressor.Host.Results;
using Compressor.Sdk;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>A plugin runs when it targets the host's SDK major and a minor no newer than the host's (SemVer: the minor
/// adds what a plugin may use). One version source: the contract's <see cref="SdkInfo.Version"/>, shown by
/// <c>--version</c> and <c>plugin list</c>.</summary>
public sealed class SdkCompatibilityTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Theory]
    [InlineData("2.0.0", "2.0.0", true, "")]
    [InlineData("2.0.7", "2.0.0", true, "")]
    [InlineData("2.1.0", "2.3.1", true, "")]
    [InlineData("2.3.9", "2.3.1", true, "")]
    [InlineData("2.1.0-ci.4", "2.1.0", true, "")]
    [InlineData("2.1.0", "2.0.0", false, "targets SDK 2.1.0, newer than this host's SDK 2.0.0: update compress")]
    [InlineData("3.0.0", "2.0.0", false, "targets SDK 3.0.0, this host has SDK 2.0.0 (major versions differ)")]
    [InlineData("1.4.0", "2.0.0", false, "targets SDK 1.4.0, this host has SDK 2.0.0 (major versions differ)")]
    public void TheRuleIsSameMajorAndNoNewerMinor(string plugin, string host, bool compatible, string reason)
    {
        Assert.Equal(compatible, SdkInfo.IsCompatible(plugin, host, out var why));
        Assert.Equal(reason, why);
    }

    [Fact]
    public void TheCatalogAppliesTheRuleWithThisHostsSdk()
    {
        var catalog = PluginCatalog.Discover([fx.FaultyPlugins]);
        Assert.Equal(SdkInfo.Version, catalog.SdkVersion);
        var newer = catalog.Find("newer-minor-sdk")!;
        Assert.Equal(PluginStatus.Incompatible, newer.Status);
        Assert.Equal($"targets SDK 2.1.0, newer than this host's SDK {SdkInfo.Version}: update compress", newer.Reason);
        Assert.Equal(PluginStatus.Incompatible, catalog.Find("future-sdk")!.Status);
        Assert.True(catalog.Find("other-patch-sdk")!.IsAvailable, catalog.Find("other-patch-sdk")!.Reason);
        var run = HostFixture.Cli("run", "newer-minor-sdk", "--model", fx.ModelPath, "--out", fx.NewDir("newer"), "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.Equal((int)ExitCode.PluginUnavailable, run.Code);
        Assert.Contains("update compress", run.Err);
    }

    [Fact]
    public void ANewerHostLoadsPluginsOfOlderMinorsAndPatches()
    {
        var catalog = PluginCatalog.Discover([fx.FaultyPlugins], sdkVersion: "2.3.1");
        Assert.True(catalog.Find("newer-minor-sdk")!.IsAvailable);   // 2.1.0: an older minor
        Assert.True(catalog.Find("other-patch-sdk")!.IsAvailable);   // 2.0.7
        Assert.True(catalog.Find("throws-in-run")!.IsAvailable);     // 2.0.0
        Assert.Equal(PluginStatus.Incompatible, catalog.Find("future-sdk")!.Status);   // 3.0.0
    }

    [Fact]
    public void VersionAndPluginListShowTheSdkVersionOfTheContract()
    {
        var (code, stdout, _) = HostFixture.Cli("--version");
        Assert.Equal(0, code);
        Assert.Equal($"compress {ToolInfo.Current.Version} (SDK {SdkInfo.Version})", stdout.Split('\n')[0]);
        Assert.Equal(SdkInfo.Version, (string?)JObject.Parse(HostFixture.Cli("plugin", "list", "--format", "json").Out)["sdkVersion"]);
        Assert.Contains($"SDK {SdkInfo.Version} (this host)", HostFixture.Cli("plugin", "list").Out);
    }

    [Fact]
    public void TheHostHoldsNoCopyOfTheSdkVersion()
    {
        string? root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "Compressor.sln"))) root = Path.GetDirectoryName(root);
        Assert.NotNull(root);
        var copies = Directory.EnumerateFiles(Path.Combine(root!, "host"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadAllText(f).Contains($"\"{SdkInfo.Version}\"", StringComparison.Ordinal)).ToList();
        Assert.Empty(copies);
    }
}
