using Compressor.Engine.Checkpoints;
using Compressor.Engine.Onnx.Export;
using Compressor.Layers.Codebook;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Testing;

namespace JLCM.Tests;

/// <summary>The plugin's paths keep their tensors on the model's device (the kit's <see cref="DevicePlacement"/>:
/// default device meta, model on the CPU), beyond the conformance runs: per-group codebooks with a stored
/// permutation and k-means++ seeding (drawn on the CPU), quantile initialisation with balanced k-means grouping,
/// the RTN baseline, and the block objective with bias correction on an imported ONNX graph (whose nodes run
/// through the engine's ONNX module).</summary>
public sealed class DevicePlacementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jlcm-device-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Cases => new(Options.Keys);

    private static readonly Dictionary<string, JlcmOptions> Options = new()
    {
        ["codebooks, stored permutation, k-means grouping"] = new()
        {
            WeightBits = 2, Groups = 4, Variant = CodebookVariant.Codebooks, Permutation = PermutationMode.Explicit, Grouping = GroupingMethod.Kmeans,
            Iterations = 3, CalibrationSamples = 32,
        },
        ["scales, folded permutation, quantile init"] = new() { WeightBits = 3, Groups = 2, Init = CodebookInit.Quantile, Iterations = 3, CalibrationSamples = 32 },
        ["rtn baseline"] = new() { WeightBits = 4, Method = JlcmMethod.Rtn, CalibrationSamples = 32 },
        ["k-means only"] = new() { WeightBits = 2, Method = JlcmMethod.Kmeans, CalibrationSamples = 32 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TensorsFollowTheModelsDevice(string name)
    {
        var data = PluginTests.Calibration(32);
        using var model = TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds);
        DevicePlacement.AssertTensorsFollowModelDevice(new JlcmPlugin(), model, Options[name], data);
    }

    [Fact]
    public void BlockObjectiveOnAnImportedGraphFollowsTheModelsDevice()
    {
        var data = PluginTests.Calibration(32);
        string path = Path.Combine(_dir, "mlp.onnx");
        using (var mlp = TinyModels.Mlp(seed: 7, kinds: new JlcmPlugin().LayerKinds))
            OnnxExporter.Export(mlp, path, JlcmKinds.All);
        using var imported = ModelIO.Load(path, JlcmKinds.All);
        DevicePlacement.AssertTensorsFollowModelDevice(new JlcmPlugin(), imported,
            new JlcmOptions { WeightBits = 2, Groups = 4, Iterations = 3, CalibrationSamples = 32, Objective = ReconstructionObjective.Block, BiasCorrection = true }, data);
    }
}
