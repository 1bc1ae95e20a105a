using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Plugins.Sparsity;
using Compressor.Plugins.Sparsity.Algorithm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>Every path of the plugin keeps its tensors on the model's device (the kit's <see cref="DevicePlacement"/>:
/// default device meta, model on the CPU), beyond the conformance run's truncated SVD: the dense fits of the block
/// structures, recovery with self-guided training, training from scratch (seeded initialisation), WINA/TEAL
/// calibration and the pre-merge threshold, on a tiny GPT (HF gpt2 names, 3 layers, d = 32).</summary>
public sealed class DevicePlacementTests
{
    private static CompressibleModel TinyGpt()
    {
        manual_seed(3);
        var spec = ArchitectureRegistry.Spec("gpt", new JObject { ["vocabSize"] = 64, ["context"] = 16, ["dim"] = 32, ["layers"] = 3, ["heads"] = 2, ["mlpRatio"] = 4 });
        return ArchitectureRegistry.CreateModel(spec, SparsityKinds.All);
    }

    private static TensorDataSet Tokens()
    {
        var g = new Generator(1);
        var ids = randint(0, 64, [32, 17], generator: g, dtype: ScalarType.Int64);
        return new TensorDataSet("random-tokens", ids.narrow(1, 0, 16).contiguous(), ids.narrow(1, 1, 16).contiguous());
    }

    public static TheoryData<string> Cases => new(Options.Keys);

    private static readonly Dictionary<string, SparsityOptions> Options = new()
    {
        ["block-shuffle fit"] = new() { Structure = Structure.BlockShuffle, Fraction = 0.32 },
        ["block-dense fit"] = new() { Structure = Structure.BlockDense, Fraction = 0.32 },
        ["low-rank recovery with sgt"] = new() { Structure = Structure.LowRank, Fraction = 0.32, RecoverySteps = 2, CheckpointEvery = 1, Sgt = true, BatchSize = 8 },
        ["block-shuffle from scratch with sgt"] = new() { Structure = Structure.BlockShuffle, Fraction = 0.32, FromScratch = true, TrainSteps = 2, Sgt = true, BatchSize = 8 },
        ["wina"] = new() { Structure = Structure.None, ActivationSparsity = ActivationScore.Wina, Sparsity = 0.5, CalibrationTokens = 64 },
        ["teal"] = new() { Structure = Structure.None, ActivationSparsity = ActivationScore.Teal, Sparsity = 0.5, CalibrationTokens = 64 },
        ["pre-merge threshold"] = new() { Structure = Structure.LowRank, Fraction = 0.32, DeployTokens = 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TensorsFollowTheModelsDevice(string name)
    {
        using var data = Tokens();
        using var model = TinyGpt();
        DevicePlacement.AssertTensorsFollowModelDevice(new SparsityPlugin(), model, Options[name], new PluginData(data, data, data));
    }
}
