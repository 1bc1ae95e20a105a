using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Sdk.Data;
using Compressor.Engine.Data;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Engine.Training;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;

namespace Compressor.Engine.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trainer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Cancels when the given epoch starts, like a kill between epochs.</summary>
    private sealed class CancelAtEpoch(CancellationTokenSource cts, int epoch) : IProgressReporter
    {
        public IProgressTask Start(string description, long total)
        {
            if (description.Contains($"epoch {epoch}/", StringComparison.Ordinal)) cts.Cancel();
            return NullProgressReporter.Instance;
        }
    }

    private static CompressibleModel Mlp()
    {
        manual_seed(9);
        var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = 64, ["hidden"] = new JArray(32), ["outputs"] = 10 });
        return ArchitectureRegistry.CreateModel(spec, TestKinds.All);
    }

    [Fact]
    public void ResumedTrainingEndsBitIdenticalToAnUninterruptedRun()
    {
        using var data = DataSources.Open("digits,limit=400", seed: 1);
        var settings = new TrainingSettings(Epochs: 3, LearningRate: 3e-3, BatchSize: 32, Seed: 1);
        using var straight = Mlp();
        var h1 = new Trainer(straight, data, settings, CPU, NullProgressReporter.Instance, NullPluginLogger.Instance, Path.Combine(_dir, "a")).Run(false, default);

        using var interrupted = Mlp();
        string work = Path.Combine(_dir, "b");
        using (var cts = new CancellationTokenSource())
        {
            var t = new Trainer(interrupted, data, settings, CPU, new CancelAtEpoch(cts, 2), NullPluginLogger.Instance, work);
            Assert.Throws<OperationCanceledException>(() => t.Run(false, cts.Token));
        }
        using var resumed = Mlp();  // a fresh process would start from a fresh model: resume must restore everything
        var h2 = new Trainer(resumed, data, settings, CPU, NullProgressReporter.Instance, NullPluginLogger.Instance, work).Run(true, default);

        Assert.Equal(h1.Select(h => h.TrainLoss), h2.Select(h => h.TrainLoss));
        var a = straight.NamedTensors();
        var b = resumed.NamedTensors();
        for (int i = 0; i < a.Count; i++) Tolerances.AssertIdentical(a[i].Tensor, b[i].Tensor, a[i].Name);
    }
}
