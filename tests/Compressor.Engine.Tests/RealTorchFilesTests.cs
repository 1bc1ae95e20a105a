using System.Security.Cryptography;
using System.Text.Json;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>Files written by real PyTorch 2.11 (<c>torch.save</c>) and by the safetensors package, not by us: each tensor
/// must come back with the dtype, shape and exact bytes that PyTorch recorded in <c>expected.json</c> (see
/// Fixtures/TorchSave/make_fixtures.py, which made them on a machine that has PyTorch), and archives whose unpickling
/// would run code must be refused before anything runs.</summary>
public sealed class RealTorchFilesTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "TorchSave");

    private static readonly Dictionary<string, Dictionary<string, JsonElement>> Expected =
        JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, JsonElement>>>(File.ReadAllText(Path.Combine(Dir, "expected.json")))!;

    public static TheoryData<string> GenuineFiles => ["dtypes_views.pt", "mlp_state_dict.pt", "checkpoint_dict.pt", "genuine.safetensors"];

    [Theory]
    [MemberData(nameof(GenuineFiles))]
    public void EveryTensorComesBackWithTheBytesPyTorchWrote(string file)
    {
        using var reader = CheckpointFormats.Open(Path.Combine(Dir, file));
        var expected = Expected[file];
        Assert.Equal(expected.Keys.Order(), reader.Tensors.Select(t => t.Name).Order());
        foreach (var (name, e) in expected)
        {
            using var t = reader.Read(name);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), t.shape);
            Assert.Equal(e.GetProperty("dtype").GetString(), TorchDTypeName(t.dtype));
            using var contiguous = t.contiguous();
            var sha = Convert.ToHexStringLower(SHA256.HashData(contiguous.bytes));
            Assert.True(e.GetProperty("sha256").GetString() == sha, $"{file}:{name}: bytes differ from what PyTorch wrote");
        }
    }

    [Fact]
    public void ViewsKeepTheirOffsetsAndStridesIntoTheSharedStorage()
    {
        using var reader = CheckpointFormats.Open(Path.Combine(Dir, "dtypes_views.pt"));
        using var a = reader.Read("shared_a");
        using var view = reader.Read("shared_view");
        using var transposed = reader.Read("transposed");
        using var strided = reader.Read("strided");
        Assert.True(a[TensorIndex.Slice(2, 4)].eq(view).all().item<bool>());
        Assert.True(a.t().eq(transposed).all().item<bool>());
        Assert.True(a[TensorIndex.Colon, TensorIndex.Slice(null, null, 2)].eq(strided).all().item<bool>());
    }

    [Fact]
    public void TheLegacyPreZipFormatIsRefusedWithAOneLineMessage()
    {
        var ex = Assert.Throws<CompressException>(() => { using var r = CheckpointFormats.Open(Path.Combine(Dir, "legacy_format.pt")); _ = r.Tensors; });
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("legacy", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("malicious_os_system.pt")]
    [InlineData("malicious_builtins_eval.pt")]
    [InlineData("malicious_builtins_exec.pt")]
    [InlineData("malicious_subprocess_popen.pt")]
    public void ArchivesThatWouldRunCodeAreRefusedAndRunNothing(string file)
    {
        const string canary = "/tmp/compress_canary";
        File.Delete(canary);
        var ex = Assert.Throws<CompressException>(() =>
        {
            using var r = CheckpointFormats.Open(Path.Combine(Dir, file));
            foreach (var e in r.Tensors) r.Read(e.Name).Dispose();
        });
        Assert.DoesNotContain('\n', ex.Message);
        Assert.False(File.Exists(canary));
    }

    private static string TorchDTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32", ScalarType.Float16 => "float16", ScalarType.BFloat16 => "bfloat16", ScalarType.Float64 => "float64",
        ScalarType.Int8 => "int8", ScalarType.Byte => "uint8", ScalarType.Int16 => "int16", ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64", ScalarType.Bool => "bool", _ => t.ToString(),
    };
}
