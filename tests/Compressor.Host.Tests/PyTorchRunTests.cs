using Compressor.Host.Pipeline;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Testing;

namespace Compressor.Host.Tests;

public sealed class PyTorchRunTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void RunCompressesATorchSaveCheckpointByName()
    {
        string dir = fx.NewDir("pt-run");
        string model = Path.Combine(dir, "mlp.pth");
        // The mlp architecture's default configuration (64 → 64 → 10), so that --arch mlp alone describes it.
        using (var mlp = TinyModels.Mlp(seed: 4, hidden: [64])) PyTorchZipWriter.Write(model, mlp.NamedTensors());
        string outDir = Path.Combine(dir, "out");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", model, "--arch", "mlp", "--out", outDir, "--weight-bits", "8", "-v", "q");
        Assert.True(code == 0, stderr);
        using var back = HostFixture.Load(Path.Combine(outDir, RunPipeline.CheckpointFile));
        Assert.Equal("mlp", back.ArchitectureName);
        Assert.IsType<QuantizedLayer>(back.GetLayer("layers.0"));
    }
}
