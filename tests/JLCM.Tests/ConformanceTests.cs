using Compressor.Engine.Data;
using Compressor.Layers.Codebook;
using Compressor.Plugins.Jlcm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;
using Compressor.Plugins.Jlcm.Algorithm;

namespace JLCM.Tests;

/// <summary>The SDK conformance kit applied to jlcm on the MLP and on the CNN.</summary>
public sealed class JlcmConformanceTests : PluginConformanceTests<JlcmPlugin, JlcmOptions>
{
    protected override JlcmOptions SampleOptions => new() { WeightBits = 4, Groups = 4, Variant = CodebookVariant.Codebooks, Iterations = 10, CalibrationSamples = 32 };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--weight-bits", "9"], "--weight-bits"),
        (["--groups", "0"], "--groups"),
        (["--variant", "both"], "--variant"),
        (["--gradient", "sideways"], "--gradient"),
        (["--method", "rtn", "--weight-bits", "1"], "--weight-bits"),
    ];

    // 4-bit (16 codewords) k-means per group of Gaussian-like weights: Lloyd-Max gives ≈ 20 dB for a Gaussian
    // (9.3 dB at 2 bits); learning may trade weight error for output error, so 16 dB.
    protected override double MinimumWeightSqnrDb => 16;

    // Created once and shared (read-only, outside any dispose scope), like StatsQ's digits: the leak check counts
    // only what the plugin leaves, not the fixture's data (PluginTests.Calibration()'s samples).
    private static readonly Lazy<PluginData> Data =
        new(() => new(null, new TensorDataSet("calibration", TinyModels.Inputs([64, 64], seed: 11).DetachFromDisposeScope(), null), null));

    protected override PluginData CreateData() => Data.Value;
}

public sealed class JlcmConformanceCnnTests : PluginConformanceTests<JlcmPlugin, JlcmOptions>
{
    protected override JlcmOptions SampleOptions => new() { WeightBits = 4, Groups = 2, Iterations = 10, CalibrationSamples = 16, Include = ["convs.*"] };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments => [(["--permutation", "sometimes"], "--permutation")];

    protected override double MinimumWeightSqnrDb => 16;

    protected override CompressibleModel CreateModel() => TinyModels.Cnn(seed: 5, kinds: new JlcmPlugin().LayerKinds);

    protected override Tensor CreateInputs() => TinyModels.Inputs([2, 1, 8, 8], seed: 4);

    private static readonly Lazy<PluginData> Data =
        new(() => new(null, new TensorDataSet("calibration", TinyModels.Inputs([16, 1, 8, 8], seed: 12).DetachFromDisposeScope(), null), null));

    protected override PluginData CreateData() => Data.Value;
}

/// <summary>The kit on jlcm with <c>--init gptq</c> at 3 bits: GPTVQ initialisation, then learning; indices packed densely
/// (3 bits each) through export and the gate.</summary>
public sealed class JlcmConformanceGptqInitTests : PluginConformanceTests<JlcmPlugin, JlcmOptions>
{
    protected override JlcmOptions SampleOptions => new() { WeightBits = 3, Groups = 2, Init = CodebookInit.Gptq, Iterations = 5, CalibrationSamples = 128 };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments => [(["--init", "spectral"], "--init")];

    // 3-bit k-means-like codebooks (8 codewords) per group: Lloyd-Max ≈ 14.6 dB for a Gaussian; GPTQ's feedback trades
    // weight error for output error (9.9 dB measured on the 10-row head, whose 48 inputs are ReLU outputs): 8 dB. 128 calibration samples keep every layer's H (≤ 64 inputs) full rank: with
    // fewer samples than inputs the feedback moves weights freely along directions the data never excites (5 dB seen
    // with 32 samples on the 48-input head), which costs no output error on that data but fails any weight floor.
    protected override double MinimumWeightSqnrDb => 8;

    private static readonly Lazy<PluginData> Data =
        new(() => new(null, new TensorDataSet("calibration", TinyModels.Inputs([128, 64], seed: 13).DetachFromDisposeScope(), null), null));

    protected override PluginData CreateData() => Data.Value;
}
