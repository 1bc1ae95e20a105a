using Compressor.Sdk;
using Compressor.Sdk.Plugins;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary><c>--max-memory</c>: the host refuses a model (plus data) over the limit before loading it, and a
/// layer-wise plugin refuses a layer whose working set does not fit, both with exit code 10 and no output.</summary>
public sealed class MaxMemoryTests(HostFixture fx) : IClassFixture<HostFixture>
{
    // The fixture's MLP 64→128→64→10 in float32: (64·128 + 128 + 128·64 + 64 + 64·10 + 10) · 4 bytes.
    private const long ModelBytes = 17_226 * 4;

    private (int Code, string Err, string Dir) Run(string limit)
    {
        string outDir = fx.NewDir("mem");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--max-memory", limit, "-v", "q");
        return (code, stderr.TrimEnd(), outDir);
    }

    [Fact]
    public void AModelOverTheLimitIsRefusedBeforeLoading()
    {
        var (code, err, dir) = Run("1KB");
        Assert.Equal((int)ExitCode.MemoryLimitExceeded, code);
        Assert.Equal($"error: {fx.ModelPath}: the checkpoint ({MemoryBudget.Format(ModelBytes)}) exceeds --max-memory 1000 B", err);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void ALayerWhoseWorkingSetDoesNotFitStopsThePluginEarly()
    {
        // The model fits 100 kB; rtn's working set for layers.0 (3 × 4 bytes × 8192 weights = 96 KiB) does not.
        var (code, err, dir) = Run("100kB");
        Assert.Equal((int)ExitCode.MemoryLimitExceeded, code);
        Assert.Equal($"error: rtn: layer 'layers.0' needs 96.0 KiB of working memory on top of {MemoryBudget.Format(ModelBytes)} resident, over --max-memory 97.7 KiB", err);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void ARunWithinTheLimitSucceeds()
    {
        var (code, err, dir) = Run("1MiB");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(dir, "compressed.safetensors")));
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("-5MB")]
    [InlineData("0")]
    public void AnUnreadableLimitIsAnArgumentError(string limit)
    {
        var (code, err, _) = Run(limit);
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Equal($"error: --max-memory '{limit}' is not a size (e.g. 2GB, 512MiB, 1000000)", err);
    }

    [Theory]
    [InlineData("2GB", 2_000_000_000L)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("64 kib", 65_536L)]
    [InlineData("1000", 1000L)]
    public void SizesParseInDecimalAndBinaryUnits(string text, long bytes) => Assert.Equal(bytes, MemoryBudget.Parse(text));

    [Fact]
    public void TensorBytesRefusesOverflowAndNegativeDimensions()
    {
        Assert.Equal(3L * 5 * 2, MemoryBudget.TensorBytes([3, 5], ScalarType.Float16));
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<CompressException>(() => MemoryBudget.TensorBytes([1L << 40, 1L << 30], ScalarType.Float32)).Kind);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<CompressException>(() => MemoryBudget.TensorBytes([4, -1], ScalarType.Float32)).Kind);
    }

    [Fact]
    public void TheBudgetCountsWhatIsResident()
    {
        var budget = new MemoryBudget(1000, 600);
        Assert.True(budget.Fits(400));
        Assert.False(budget.Fits(401));
        Assert.Equal(ErrorKind.MemoryLimit, Assert.Throws<CompressException>(() => budget.EnsureFits("x", 401)).Kind);
        Assert.True(MemoryBudget.Unlimited.Fits(long.MaxValue));
    }
}
