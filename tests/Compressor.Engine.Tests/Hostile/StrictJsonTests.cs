using Compressor.Engine.IO;
using Compressor.Engine.Models;
using Compressor.Engine.Plugins;
using Compressor.Engine.Storage;

namespace Compressor.Engine.Tests.Hostile;

/// <summary>Issue 22, case 9: a key given twice took the last value silently (tensor names, <c>__metadata__</c>,
/// recipe options, manifests); a header of 1.2 million empty tensors cost 27 s and 3 GB to inspect.</summary>
public sealed class StrictJsonTests : IDisposable
{
    private readonly HostileFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""")]
    [InlineData("""{"__metadata__":{"k":"1"},"__metadata__":{"k":"2"}}""")]
    [InlineData("""{"__metadata__":{"k":"1","k":"2"}}""")]
    [InlineData("""{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}""")]
    public void SafetensorsHeadersWithDuplicateKeysAreRefused(string header)
    {
        string path = _files.File($"dup-{header.GetHashCode():x}.safetensors", DeclaredShapeTests.Safetensors(header, new byte[8]));
        var e = Assert.Throws<CompressException>(() => SafetensorsReader.Open(path).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    [Fact]
    public void AHeaderOfTooManyTensorsIsRefusedQuickly()
    {
        var sb = new System.Text.StringBuilder("{");
        for (int i = 0; i <= SafetensorsReader.MaxTensors; i++) sb.Append($"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}},");
        sb.Length--;
        sb.Append('}');
        string path = _files.File("many.safetensors", DeclaredShapeTests.Safetensors(sb.ToString(), []));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<CompressException>(() => SafetensorsReader.Open(path).Dispose());
        Assert.Contains($"more than {SafetensorsReader.MaxTensors} tensors", e.Message);
        Assert.True(clock.Elapsed.TotalSeconds < 20, $"took {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void ManifestsAndCompressionManifestsRefuseDuplicateKeys()
    {
        string manifest = """{"id": "a", "id": "b", "version": "1.0.0", "sdkVersion": "2.0.0", "assembly": "A.dll", "entryType": "A.P"}""";
        Assert.Contains("invalid plugin.json", Assert.Throws<CompressException>(() => PluginManifest.Parse(manifest)).Message);
        Assert.Throws<CompressException>(() => CompressionManifest.FromJson("""{"formatVersion": 2, "formatVersion": 1, "architecture": null, "steps": [], "layers": {}}"""));
        Assert.Throws<CompressException>(() => CompressionManifest.FromJson("""{"formatVersion": 2, "architecture": null, "steps": [], "layers": {"a": {"kind": "x", "kind": "y", "configVersion": 1, "config": {}}}}"""));
        Assert.Throws<CompressException>(() => ArchitectureSpec.FromJson("""{"name": "mlp", "name": "vit"}"""));
        Assert.NotNull(StrictJson.Node("""{"a": 1, "b": {"a": 2}}"""));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => StrictJson.Node("""{"a": 1, "a": 2}"""));
    }
}
