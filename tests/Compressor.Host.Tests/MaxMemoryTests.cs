using Compressor.Host.Pipeline;
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
        long peak = MemoryEstimate.Peak(ModelBytes, 0);
        Assert.Equal(MemoryEstimate.RuntimeBytes + MemoryEstimate.ModelCopies * ModelBytes, peak);
        var (code, err, dir) = Run((peak - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((int)ExitCode.MemoryLimitExceeded, code);
        Assert.Equal($"error: {fx.ModelPath}: the checkpoint ({MemoryBudget.Format(ModelBytes)}) needs about {MemoryBudget.Format(peak)} to run " +
                     $"({MemoryEstimate.ModelCopies} × the model and {MemoryBudget.Format(MemoryEstimate.RuntimeBytes)} of runtime), over --max-memory {MemoryBudget.Format(peak - 1)}", err);
        Assert.Empty(Directory.GetFiles(dir));
        // At the estimate itself, the run is admitted.
        Assert.Equal(0, Run(peak.ToString(System.Globalization.CultureInfo.InvariantCulture)).Code);
    }

    [Fact]
    public void AHugeSparseCheckpointIsRefusedFromItsHeaderWithoutHashing()
    {
        // Case 2: a sparse 100 GB file took 132 s to be refused (the whole input was hashed before the check).
        string path = Path.Combine(fx.NewDir("sparse"), "huge.safetensors");
        string header = """{"w":{"dtype":"F32","shape":[500000000],"data_offsets":[0,2000000000]}}""";
        var h = System.Text.Encoding.UTF8.GetBytes(header);
        using (var fs = File.Create(path))
        {
            fs.Write(BitConverter.GetBytes((ulong)h.Length));
            fs.Write(h);
            fs.SetLength(8 + h.Length + 2_000_000_000L);   // sparse: nothing written
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", path, "--out", fx.NewDir("sparse-out"), "--max-memory", "1GB", "-v", "q");
        Assert.True(clock.Elapsed.TotalSeconds < 10, $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(code == (int)ExitCode.MemoryLimitExceeded, stderr);
    }

    [Fact]
    public void ARunWithinTheLimitSucceeds()
    {
        var (code, err, dir) = Run("1GiB");
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
