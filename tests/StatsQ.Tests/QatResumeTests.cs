using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm.Training;
using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Models;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace StatsQ.Tests;

/// <summary>QAT killed mid-run resumes from its work folder and ends bit-identical to an uninterrupted run.</summary>
[Collection(TrainedVitCollection.Name)]
public sealed class QatResumeTests(TrainedVitFixture fx)
{
    /// <summary>Cancels after a number of training steps (progress units).</summary>
    private sealed class CancelAfter(int steps, CancellationTokenSource cts) : IProgressReporter, IProgressTask
    {
        private int _done;

        public IProgressTask Start(string description, long total) => this;

        public void Advance(long units = 1, string? status = null)
        {
            _done += (int)units;
            if (_done >= steps) cts.Cancel();
        }

        public void Dispose() { }
    }

    private static readonly StatsQOptions Options = new() { WeightBits = 3, ActivationBits = 3, Epochs = 2, Cga = true, CgaEpochs = 1, BatchSize = 64, LearningRate = 5e-4 };

    private (List<(string Name, Tensor Tensor)> Tensors, ReportBuilder Report, QatTrainer Trainer) Train(string work, int? cancelAfterSteps)
    {
        using var teacher = fx.Load();
        var student = fx.Load();
        var tensors = ModelQuantization.Apply(student, Options);
        var report = new ReportBuilder();
        using var cts = new CancellationTokenSource();
        IProgressReporter progress = cancelAfterSteps is { } n ? new CancelAfter(n, cts) : NullProgressReporter.Instance;
        var trainer = new QatTrainer(student, teacher, tensors, Options, fx.Data.Train, fx.Data.Evaluation, DataKind.Images, CPU, progress,
            NullPluginLogger.Instance, report, new FolderResumeStore(work, StatsQTestKinds.All), seed: 7);
        trainer.Run(cts.Token);
        return (student.NamedTensors().Select(t => (t.Name, t.Tensor.detach().clone())).ToList(), report, trainer);
    }

    [Fact]
    public void KilledQatResumesBitIdentical()
    {
        string root = Directory.CreateTempSubdirectory("statsq-resume-").FullName;
        try
        {
            var (expected, expectedReport, _) = Train(Path.Combine(root, "a"), null);
            long stepsPerEpoch = (fx.Data.Train.Count + Options.BatchSize - 1) / Options.BatchSize;
            // Killed in the middle of the second QAT epoch: the first epoch's state is on disk.
            Assert.ThrowsAny<OperationCanceledException>(() => Train(Path.Combine(root, "b"), (int)(stepsPerEpoch + stepsPerEpoch / 2)));
            var (actual, actualReport, trainer) = Train(Path.Combine(root, "b"), null);
            Assert.Equal(2, trainer.EpochsTrainedHere);   // QAT epoch 2 and the CGA epoch; epoch 1 came from the folder
            Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
            for (int i = 0; i < expected.Count; i++) Tolerances.AssertIdentical(expected[i].Tensor, actual[i].Tensor, expected[i].Name);
            Assert.Equal(expectedReport.Metrics.Where(m => m.Name != "qat.stepSeconds"), actualReport.Metrics.Where(m => m.Name != "qat.stepSeconds"));
            Assert.Equal(expectedReport.Series.Single(s => s.Name == "qat/loss").Y, actualReport.Series.Single(s => s.Name == "qat/loss").Y);
            Assert.Equal(expectedReport.Series.Single(s => s.Name == "cga/unfrozen").Y, actualReport.Series.Single(s => s.Name == "cga/unfrozen").Y);

            // Issue 22, case 4: killed between the renames of the epoch-2 save, the rerun logged "resuming after QAT
            // epoch 1" but started from epoch-2 weights. Here the epoch-2 save stops after its data files, before its
            // state file (as kill -9 would): the rerun resumes from epoch 1, whole, and ends bit-identical.
            int saves = 0;
            using (Compressor.Engine.IO.CrashPoints.Arm(p => { if (p == "resume.after-optimizer" && ++saves == 2) throw new Compressor.Engine.IO.SimulatedCrash(p); }))
                Assert.Throws<Compressor.Engine.IO.SimulatedCrash>(() => Train(Path.Combine(root, "c"), null));
            var (crashed, _, crashedTrainer) = Train(Path.Combine(root, "c"), null);
            Assert.Equal(2, crashedTrainer.EpochsTrainedHere);   // epoch 1 came from the folder; epoch 2's half-save did not count
            for (int i = 0; i < expected.Count; i++) Tolerances.AssertIdentical(expected[i].Tensor, crashed[i].Tensor, expected[i].Name);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
