using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Testing;
using Compressor.Plugins.StatsQ.Algorithm;

namespace StatsQ.Tests;

/// <summary>The SDK conformance kit applied to statsq on the tiny MLP (the weight-only path: every linear, no
/// activation quantizers), trained briefly on a digits subset.</summary>
public sealed class StatsQConformanceTests : PluginConformanceTests<StatsQPlugin, StatsQOptions>
{
    private static readonly Lazy<DataSplits> Digits = new(() => DataSources.Open("digits,limit=256", seed: 0));

    protected override StatsQOptions SampleOptions => new()
    {
        WeightBits = 4, Quantizer = WeightQuantizerKind.StatsQ, Qkr = false, Epochs = 1, CgaEpochs = 1, BatchSize = 64, LearningRate = 1e-3,
    };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--weight-bits", "1"], "--weight-bits"),
        (["--bits", "9"], "--bits"),
        (["--quantizer", "ternary"], "--quantizer"),
        (["--cga-boundary", "0.9"], "--cga-boundary"),
        (["--quantizer", "lsq"], "--qkr"),
    ];

    // 4-bit zero-less StatsQ grid on uniform-initialised rows: s = 2·mean|w| equals the range, 16 levels over it, so
    // ≈ 6.02·4 ≈ 24 dB against the latent weight; 18 dB leaves room for the clipped tails after a short QAT.
    protected override double MinimumWeightSqnrDb => 18;

    protected override PluginData CreateData() => new(Digits.Value.Train, Digits.Value.Calibration, Digits.Value.Evaluation);
}
