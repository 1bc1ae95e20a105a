using Compressor.Sdk.Testing;
using MyPlugin;
using MyPlugin.Algorithm;

namespace MyPlugin.Tests;

/// <summary>The SDK conformance kit applied to my-plugin: options round-trip through JSON, bad values are rejected,
/// it rewrites a tiny model, the checkpoint reloads, the ONNX export passes the verification gate, every layer meets
/// the SQNR floor below, and no tensor leaks.</summary>
public sealed class MyPluginConformanceTests : PluginConformanceTests<MyPluginPlugin, MyPluginOptions>
{
    protected override MyPluginOptions SampleOptions => new() { WeightBits = 8 };

    protected override IEnumerable<(string[] Arguments, string Flag)> InvalidArguments =>
    [
        (["--weight-bits", "3"], "--weight-bits"),
        (["--weight-bits", "eight"], "--weight-bits"),
        (["--no-such-option", "1"], "--no-such-option"),
    ];

    // 8-bit symmetric per channel: ≈ 6.02·8 + 1.76 − 20·log10(max/σ·√3) ≳ 40 dB for uniform-initialised weights.
    protected override double MinimumWeightSqnrDb => 40;
}

/// <summary>The algorithm on its own.</summary>
public sealed class ChannelQuantizerTests
{
    [Fact]
    public void CodesStayOnTheGridAndReconstructWithinHalfAStep()
    {
        using var w = TorchSharp.torch.randn(6, 10, generator: new TorchSharp.torch.Generator(3));
        var (codes, scales) = ChannelQuantizer.Quantize(w, bits: 4);
        using (codes)
        using (scales)
        {
            Assert.True(codes.abs().max().item<sbyte>() <= 7, "4-bit symmetric codes exceed ±7");
            using var error = codes.to_type(TorchSharp.torch.ScalarType.Float32).mul(scales.unsqueeze(1)).sub(w).abs();
            using var halfStep = scales.unsqueeze(1).mul(0.5 + 1e-6);
            Assert.True(error.le(halfStep).all().item<bool>(), "reconstruction error exceeds half a quantization step");
        }
    }
}
