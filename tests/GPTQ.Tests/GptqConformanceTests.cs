using Compressor.Engine.Data;
using Compressor.Plugins.Gptq;
using Compressor.Plugins.Gptq.Algorithm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace GPTQ.Tests;

/// <summary>The SDK conformance kit applied to gptq: 4-bit groups of 16 on the MLP, 3-bit (densely packed) per channel
/// on the CNN's convolutions with act-order and AWQ.</summary>
public sealed class GptqConformanceTests : PluginConformanceTests<GptqPlugin, GptqOptions>
{
    protected override GptqOptions SampleOptions => new() { WeightBits = 4, GroupSize = 16, Scheme = QuantScheme.Asymmetric, CalibrationSamples = 64 };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--weight-bits", "9"], "--weight-bits"),
        (["--group-size", "-1"], "--group-size"),
        (["--scheme", "nonuniform"], "--scheme"),
        (["--damp", "-0.1"], "--damp"),
        (["--damp", "0.5", "--max-damp", "0.1"], "--max-damp"),
        (["--rounding", "stochastic"], "--rounding"),
        (["--rounding", "nearest", "--act-order"], "--act-order"),
    ];

    // 4-bit asymmetric groups of 16 of uniform-initialised weights: ≈ 6.02·4 − 1.25 ≈ 22.8 dB by rounding alone; GPTQ
    // trades weight error for output error (its updates move later columns away from the original weights), which
    // costs a few dB of weight SQNR: 16 dB.
    protected override double MinimumWeightSqnrDb => 16;

    internal static readonly Lazy<PluginData> MlpData =
        new(() => new(null, new TensorDataSet("calibration", TinyModels.Inputs([64, 64], seed: 11).DetachFromDisposeScope(), null), null));

    protected override PluginData CreateData() => MlpData.Value;
}

public sealed class GptqConformanceCnnTests : PluginConformanceTests<GptqPlugin, GptqOptions>
{
    protected override GptqOptions SampleOptions => new()
    {
        WeightBits = 3, GroupSize = 0, Scheme = QuantScheme.Symmetric, ActOrder = true, Awq = true, CalibrationSamples = 16, Include = ["convs.*"],
    };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments => [(["--awq", "maybe"], "--awq")];

    // 3-bit symmetric per channel (the reference grid: 2·max|w|/7 per step) of uniform-initialised weights: rounding
    // alone gives ≈ 6.02·3 − 1.25 − 1.2 ≈ 15.6 dB; AWQ's clipping and GPTQ's updates trade some weight error for output
    // error: 9 dB.
    protected override double MinimumWeightSqnrDb => 9;

    protected override CompressibleModel CreateModel() => TinyModels.Cnn(seed: 5, kinds: new GptqPlugin().LayerKinds);

    protected override Tensor CreateInputs() => TinyModels.Inputs([2, 1, 8, 8], seed: 4);

    private static readonly Lazy<PluginData> Data =
        new(() => new(null, new TensorDataSet("calibration", TinyModels.Inputs([16, 1, 8, 8], seed: 12).DetachFromDisposeScope(), null), null));

    protected override PluginData CreateData() => Data.Value;
}
