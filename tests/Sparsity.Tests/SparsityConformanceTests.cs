using Compressor.Plugins.Sparsity;
using Compressor.Sdk.Testing;
using Compressor.Plugins.Sparsity.Algorithm;

namespace Sparsity.Tests;

/// <summary>The SDK conformance kit on the MLP (64 → 96 → 48 → 10), every linear low-rank at 90% of its weights.</summary>
public sealed class SparsityConformanceTests : PluginConformanceTests<SparsityPlugin, SparsityOptions>
{
    protected override SparsityOptions SampleOptions => new() { Structure = Structure.LowRank, Fraction = 0.9, FirstLayerDense = false, Include = ["layers.*"] };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--structure", "dense"], "--structure"),
        (["--fraction", "0"], "--fraction"),
        (["--sgt-share", "2"], "--sgt-share"),
        (["--sparsity", "1.5"], "--sparsity"),
        (["--activation-sparsity", "random"], "--activation-sparsity"),
    ];

    // Truncated SVD of uniform-initialised (near-isotropic) matrices keeping r = 32 of 64, 32 of 48 and 7 of 10
    // singular values: by the Marchenko–Pastur spectrum the kept half carries ≳ 70% of the energy, i.e. SQNR ≳ 5 dB.
    protected override double MinimumWeightSqnrDb => 4;
}
