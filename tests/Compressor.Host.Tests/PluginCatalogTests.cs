using Compressor.Sdk;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

public sealed class PluginCatalogTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void ListShowsEveryPluginWithStatusAndReasonAndExitsZero()
    {
        var (code, stdout, _) = HostFixture.Cli("plugin", "list", "--format", "json", "--plugins", fx.FaultyPlugins);
        Assert.Equal(0, code);
        var json = JObject.Parse(stdout);
        Assert.Equal(1, (int)json["schemaVersion"]!);
        var byId = json["plugins"]!.ToDictionary(p => (string)p["id"]!, p => (JObject)p);
        Assert.Equal("available", (string?)byId["rtn"]["status"]);
        Assert.Equal("1.0.0", (string?)byId["rtn"]["version"]);
        Assert.Equal(SdkInfo.Version, (string?)byId["rtn"]["sdkVersion"]);
        Assert.Equal("available", (string?)byId["throws-in-run"]["status"]);
        Assert.Equal("incompatible", (string?)byId["future-sdk"]["status"]);
        Assert.Equal($"targets SDK 3.0.0, this host has SDK {SdkInfo.Version} (major versions differ)", (string?)byId["future-sdk"]["reason"]);
        Assert.Equal("malfunctioned", (string?)byId["throws-in-ctor"]["status"]);
        Assert.Contains("constructor exploded on purpose", (string?)byId["throws-in-ctor"]["reason"]);
        Assert.Equal("load-failed", (string?)byId["corrupt"]["status"]);
        Assert.Contains("cannot load Corrupt.dll", (string?)byId["corrupt"]["reason"]);
        Assert.Equal("no-manifest", (string?)byId["no-manifest"]["status"]);
        Assert.Contains("no plugin.json", (string?)byId["no-manifest"]["reason"]);
    }

    [Fact]
    public void TextListIsATable()
    {
        var (code, stdout, _) = HostFixture.Cli("plugin", "list", "--plugins", fx.FaultyPlugins);
        Assert.Equal(0, code);
        Assert.StartsWith("ID", stdout);
        Assert.Contains("rtn", stdout);
        Assert.Contains("incompatible", stdout);
    }

    [Theory]
    [InlineData("future-sdk", "incompatible")]
    [InlineData("throws-in-ctor", "malfunctioning")]
    [InlineData("corrupt", "not loadable")]
    [InlineData("no-manifest", "missing its manifest")]
    [InlineData("nonexistent", "no plugin 'nonexistent'")]
    public void RunWithAnUnavailablePluginExitsFourWithOneLine(string id, string fragment)
    {
        string outDir = fx.NewDir("out");
        var (code, stdout, stderr) = HostFixture.Cli("run", id, "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins);
        Assert.Equal((int)ExitCode.PluginUnavailable, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(fragment, stderr);
        Assert.Empty(Directory.GetFileSystemEntries(outDir));
    }

    [Fact]
    public void DescribeListsOptionsWithTypesDefaultsAndSchema()
    {
        var (code, stdout, _) = HostFixture.Cli("plugin", "describe", "rtn");
        Assert.Equal(0, code);
        Assert.Contains("--weight-bits", stdout);
        Assert.Contains("one of 2, 3, 4, 5, 6, 7, 8", stdout);
        var (jcode, json, _) = HostFixture.Cli("plugin", "describe", "rtn", "--format", "json");
        Assert.Equal(0, jcode);
        var o = JObject.Parse(json);
        Assert.Equal("4", (string?)o["options"]!.First(x => (string?)x["flag"] == "--weight-bits")["default"]);
        Assert.Equal("integer", (string?)o["recipeSchema"]!["properties"]!["weightBits"]!["type"]);
        Assert.Equal(new JArray("linear", "conv2d", "embedding"), o["targets"]);
    }
}
