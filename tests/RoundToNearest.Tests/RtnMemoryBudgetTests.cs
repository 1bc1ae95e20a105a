using Compressor.Engine.Models;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;

namespace RoundToNearest.Tests;

/// <summary>rtn asks the run's <see cref="MemoryBudget"/> before each layer's working set (3 float32 copies of the
/// layer's weights) and stops with a one-line memory-limit error when it does not fit. (This was a host test; the
/// host's admission estimate now covers the runtime and the export's copies of the model, so a limit that admits the
/// run leaves room for any single layer of it, and the refusal is shown here with the budget given directly.)</summary>
public sealed class RtnMemoryBudgetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rtn-memory-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ALayerWhoseWorkingSetDoesNotFitStopsThePluginBeforeAllocating()
    {
        using var model = TinyModels.Mlp(seed: 21, inputs: 64, hidden: [128, 64], outputs: 10);
        // layers.0 holds 64 × 128 weights: 3 × 4 × 8192 bytes = 96 KiB of working set; 90 KiB are available.
        var budget = new MemoryBudget(1_000_000, 1_000_000 - 90 * 1024);
        var e = Assert.Throws<CompressException>(() => new RtnPlugin().Run(
            new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder(), Memory = budget },
            new RtnOptions { WeightBits = 4 }));
        Assert.Equal(ErrorKind.MemoryLimit, e.Kind);
        Assert.Equal($"rtn: layer 'layers.0' needs 96.0 KiB of working memory on top of {MemoryBudget.Format(budget.ResidentBytes)} resident, over --max-memory {MemoryBudget.Format(1_000_000)}", e.Message);
        Assert.IsNotType<Compressor.Layers.Quantized.QuantizedLayer>(model.Layers().First(l => l.Name == "layers.0").Module);   // nothing replaced
    }
}
