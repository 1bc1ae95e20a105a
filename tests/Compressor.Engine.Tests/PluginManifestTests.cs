using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Plugins;

namespace Compressor.Engine.Tests;

public sealed class PluginManifestTests
{
    private const string Good = """
        {"id":"rtn","version":"1.2.3","sdkVersion":"1.0.0","kind":"quantization","needs":"calibration",
         "targets":["linear","conv2d"],"assembly":"X.dll","entryType":"A.B"}
        """;

    [Fact]
    public void ParsesEveryField()
    {
        var m = PluginManifest.Parse(Good);
        Assert.Equal("rtn", m.Id);
        Assert.Equal(PluginKind.Quantization, m.Kind);
        Assert.Equal(DataRequirement.Calibration, m.Needs);
        Assert.Equal(LayerType.Linear | LayerType.Conv2d, m.Targets);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"version":"1.0.0","sdkVersion":"1.0.0","assembly":"a.dll","entryType":"T"}""", "missing \"id\"")]
    [InlineData("""{"id":"Bad Id","version":"1.0.0","sdkVersion":"1.0.0","assembly":"a.dll","entryType":"T"}""", "lower-case")]
    [InlineData("""{"id":"x","version":"one","sdkVersion":"1.0.0","assembly":"a.dll","entryType":"T"}""", "not SemVer")]
    [InlineData("""{"id":"x","version":"1.0.0","sdkVersion":"1.0.0","assembly":"../a.dll","entryType":"T"}""", "file name beside")]
    [InlineData("""{"id":"x","version":"1.0.0","sdkVersion":"1.0.0","assembly":"a.dll","entryType":"T","needs":"gpu"}""", "\"needs\"")]
    public void RejectsBadManifests(string json, string fragment)
    {
        var e = Assert.Throws<CompressException>(() => PluginManifest.Parse(json));
        Assert.Contains(fragment, e.Message);
        Assert.Equal(ErrorKind.PluginUnavailable, e.Kind);
    }
}
