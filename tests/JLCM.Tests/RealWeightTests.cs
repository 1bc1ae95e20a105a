using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models.Pretrained;
using Compressor.Layers.Calibration;
using Compressor.Layers.Codebook;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace JLCM.Tests;

/// <summary>Joint learning on a real weight: the first FFN linear of all-MiniLM-L6-v2 (384 → 1536), its first 192
/// rows, with the input statistics H of real sentences through the real model.</summary>
public sealed class RealWeightTests(ITestOutputHelper output)
{
    [Fact]
    public void OneLayerOfJointLearningBeatsKmeansOnly()
    {
        using var scope = NewDisposeScope();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var files = PretrainedModels.MiniLm();
        using var model = ModelIO.Load(files.ModelPath, JlcmKinds.All);
        var data = MiniLmSentences.TokenIds();
        int count = MiniLmSentences.Sentences.Length;
        var feeder = new CalibrationFeeder(data, count, count, seed: 0, owner: "jlcm");

        output.WriteLine($"load {clock.Elapsed.TotalSeconds:F1} s");
        var ffn = model.Layers().First(l => l.Module is TorchSharp.Modules.Linear { in_features: 384, out_features: 1536 });
        var stats = new LayerInputStatistics((nn.Module<Tensor, Tensor>)ffn.Module);
        model.ReplaceLayer(ffn.Name, stats, disposeOld: false);
        feeder.RunAll(model, CancellationToken.None);
        model.ReplaceLayer(ffn.Name, ffn.Module, disposeOld: false);
        var h = stats.Hessian();
        output.WriteLine($"calibration {clock.Elapsed.TotalSeconds:F1} s");
        var w = ((TorchSharp.Modules.Linear)ffn.Module).weight!.detach().narrow(0, 0, 192).clone();

        using var kmeans = GroupedCodebook.Initialise(w, 2, 4, CodebookVariant.Scales, CodebookInit.PlusPlus, 30, seed: 1);
        double kmeansLoss = JointLearner.Loss(kmeans.Weight(), w, h);
        using var learned = GroupedCodebook.Initialise(w, 2, 4, CodebookVariant.Scales, CodebookInit.PlusPlus, 30, seed: 1);
        var result = JointLearner.Learn(learned, w, h, iterations: 60, indexLr: 0.02, codebookLr: 1e-3, MappingGradientKind.Proximal);
        output.WriteLine($"learn {clock.Elapsed.TotalSeconds:F1} s");
        double learnedLoss = JointLearner.Loss(learned.Weight(), w, h);
        output.WriteLine($"{ffn.Name}[0:192] with {stats.Count} tokens: k-means-only loss {kmeansLoss:G5}, joint learning {learnedLoss:G5} " +
                         $"({learnedLoss / kmeansLoss:P1}), ±1 share of moves {result.Moves.ShareOfUnitMoves:P1}");
        Assert.Equal(kmeansLoss, result.InitialLoss, 3);
        // Learning must buy a real reduction, not float noise: at least 5% below k-means on this slice.
        Assert.True(learnedLoss < 0.95 * kmeansLoss, $"joint learning {learnedLoss} vs k-means {kmeansLoss}");
    }
}
