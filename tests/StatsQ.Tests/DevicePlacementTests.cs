using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace StatsQ.Tests;

/// <summary>The ViT paths of the plugin keep their tensors on the model's device (the kit's <see cref="DevicePlacement"/>:
/// default device meta, model on the CPU), beyond the conformance run's weight-only MLP: QKR attention with its
/// activation quantizers and learnable shifts, the LSQ patch embedding and head, distillation from a frozen copy, CGA,
/// the oscillation trackers and the conversion to the shipped coded layers — on an untrained tiny ViT (8×8 digits,
/// d = 32, 2 blocks), one epoch of each phase.</summary>
public sealed class DevicePlacementTests : IDisposable
{
    private readonly DataSplits _digits = DataSources.Open("digits,limit=128", seed: 0);

    public void Dispose() => _digits.Dispose();

    private static CompressibleModel TinyVit()
    {
        manual_seed(0);
        var spec = ArchitectureRegistry.Spec("vit", new JObject { ["imageSize"] = 8, ["patchSize"] = 4, ["dim"] = 32, ["depth"] = 2, ["heads"] = 2 });
        return ArchitectureRegistry.CreateModel(spec, StatsQTestKinds.All);
    }

    public static TheoryData<string> Cases => new(Options.Keys);

    private static readonly Dictionary<string, StatsQOptions> Options = new()
    {
        ["statsq + qkr + kd + cga"] = new() { Epochs = 1, CgaEpochs = 1, BatchSize = 64 },
        ["statsq + qkr keeping the query bias"] = new() { Epochs = 1, CgaEpochs = 0, BatchSize = 64, KeepQueryBias = true, Kd = false },
        ["lsq without qkr"] = new() { Quantizer = WeightQuantizerKind.Lsq, Qkr = false, Epochs = 1, CgaEpochs = 0, BatchSize = 64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TensorsFollowTheModelsDevice(string name)
    {
        using var model = TinyVit();
        DevicePlacement.AssertTensorsFollowModelDevice(new StatsQPlugin(), model, Options[name],
            new PluginData(_digits.Train, _digits.Calibration, _digits.Evaluation));
    }
}
