using Compressor.Samples.RoundToNearest;
using Compressor.Sdk.Models;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;
using Compressor.Samples.RoundToNearest.Algorithm;

namespace RoundToNearest.Tests;

/// <summary>The SDK conformance kit applied to rtn, on the MLP and on the CNN.</summary>
public sealed class RtnConformanceTests : PluginConformanceTests<RtnPlugin, RtnOptions>
{
    protected override RtnOptions SampleOptions => new() { WeightBits = 4, GroupSize = 16, Scheme = QuantScheme.Asymmetric };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--weight-bits", "9"], "--weight-bits"),
        (["--group-size", "-1"], "--group-size"),
        (["--scheme", "nonuniform"], "--scheme"),
        (["--bits", "4"], "--bits"),
    ];

    // 4-bit asymmetric, 16 weights per group of uniform-initialised weights: about 6.02·4 − 1.25 ≈ 22.8 dB for a
    // uniform distribution filling the range; 18 dB leaves room for the ±1 code lost to zero-point rounding.
    protected override double MinimumWeightSqnrDb => 18;
}

public sealed class RtnConformanceCnnTests : PluginConformanceTests<RtnPlugin, RtnOptions>
{
    protected override RtnOptions SampleOptions => new() { WeightBits = 8, GroupSize = 0, Include = ["convs.*"] };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments => [(["--clip-search", "maybe"], "--clip-search")];

    // 8-bit symmetric per channel: ≈ 6.02·8 + 1.76 − 20·log10(max/σ·√3) ≳ 40 dB for uniform-initialised weights.
    protected override double MinimumWeightSqnrDb => 40;

    protected override CompressibleModel CreateModel() => TinyModels.Cnn(seed: 5, kinds: new RtnPlugin().LayerKinds);

    protected override Tensor CreateInputs() => TinyModels.Inputs([2, 1, 8, 8], seed: 4);
}
