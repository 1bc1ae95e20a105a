using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Joint learning on one block's output reconstruction (README "Joint learning", the per-block form):
/// L = mean over calibration batches of Σ_outputs mean((f_block(X; Ŵ) − f_block(X; W))²), where X are the block's
/// inputs computed by the already-compressed prefix and the targets are the same block with its FP weights on the
/// same X. Every layer of the block learns at once: each iteration runs the block (only its nodes,
/// <see cref="CompressibleModel.RunValues"/>) on every calibration batch with the layers' current Ŵ as gradient-collecting
/// leaves, then hands each layer its g = dL/dŴ (<see cref="CodebookUpdater.Step"/>). Errors that pass through
/// normalisation, activation and residual paths inside the block are seen, which the layer objective misses. The
/// iterate with the lowest loss (all layers together) is kept; iteration 0 is the initialisation.</summary>
public static class BlockLearner
{
    /// <summary>One layer of the block while it learns.</summary>
    /// <param name="Name">Layer name.</param>
    /// <param name="Codebook">Its grouped codebook (stored row order).</param>
    /// <param name="Original">The FP layer (with any folded permutation applied).</param>
    /// <param name="RowOrder">The stored permutation (original row j = stored row RowOrder[j]), or null.</param>
    public sealed record Layer(string Name, GroupedCodebook Codebook, nn.Module<Tensor, Tensor> Original, Tensor? RowOrder);

    /// <summary>The outcome: block loss of the initialisation and of the kept iterate, each layer's index moves, and
    /// each layer's bias correction [O] (original row order; null when not asked for).</summary>
    public sealed record Result(double InitialLoss, double FinalLoss, IReadOnlyList<IndexMoveStats> Moves, IReadOnlyList<Tensor?> BiasCorrections);

    /// <summary>The block loss with the model as it is (no grad).</summary>
    public static double Loss(CompressibleModel graph, ModelBlock block, IReadOnlyList<Dictionary<string, Tensor>> inputs,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> targets)
    {
        using var noGrad = no_grad();
        double sum = 0;
        for (int b = 0; b < inputs.Count; b++)
        {
            using var scope = NewDisposeScope();
            sum += BatchLoss(graph, block, inputs[b], targets[b]).item<float>();
        }
        return sum / inputs.Count;
    }

    /// <summary>The loss of an all-zero output: mean over batches of Σ_outputs mean(target²), the scale that makes a block
    /// loss a relative error.</summary>
    public static double TargetPower(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> targets)
    {
        using var scope = NewDisposeScope();
        return targets.Average(t => t.Values.Sum(v => v.to_type(ScalarType.Float32).square().mean().item<float>()));
    }

    /// <summary>The block's FP outputs on each batch of captured inputs (no grad; caller disposes).</summary>
    public static List<IReadOnlyDictionary<string, Tensor>> Targets(CompressibleModel graph, ModelBlock block, IReadOnlyList<Dictionary<string, Tensor>> inputs)
    {
        using var noGrad = no_grad();
        return inputs.Select(x =>
        {
            var outs = graph.RunValues(x, block.Outputs);
            return (IReadOnlyDictionary<string, Tensor>)outs.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
        }).ToList();
    }

    /// <summary>Learns every layer's codebook in place (on the model's device), with <paramref name="iterations"/>
    /// updates (0: only the initial loss).</summary>
    public static Result Learn(CompressibleModel model, ModelBlock block, IReadOnlyList<Dictionary<string, Tensor>> inputs,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> targets, IReadOnlyList<Layer> layers, int iterations, double indexLr, double codebookLr,
        MappingGradientKind kind, Device device, CancellationToken cancellation, bool correctBiases = false)
    {
        var graph = model;
        var wrappers = layers.Select(l => new CodebookTrainingLayer(l.Original, l.RowOrder?.to(device))).ToList();
        var updaters = layers.Select(l => new CodebookUpdater(l.Codebook, indexLr, codebookLr, kind)).ToList();
        var best = layers.Select(l => l.Codebook.Snapshot()).ToList();
        double initial = double.NaN, bestLoss = double.PositiveInfinity;
        for (int i = 0; i < layers.Count; i++) model.ReplaceLayer(layers[i].Name, wrappers[i], disposeOld: false);
        try
        {
            for (int t = 0; ; t++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var step = NewDisposeScope();
                bool learn = t < iterations;
                var leaves = new List<Tensor>();
                for (int i = 0; i < layers.Count; i++)
                {
                    using var noGrad = no_grad();
                    var w = layers[i].Codebook.Weight().to(device).detach();
                    if (learn) w.requires_grad_(true);
                    leaves.Add(w);
                    wrappers[i].Weight = w;
                }
                double loss = learn ? 0 : Loss(graph, block, inputs, targets);
                for (int b = 0; learn && b < inputs.Count; b++)
                {
                    using var scope = NewDisposeScope();
                    var l = BatchLoss(graph, block, inputs[b], targets[b]).div(inputs.Count);
                    l.backward();
                    loss += l.item<float>();
                }
                if (t == 0) initial = loss;
                if (loss < bestLoss)
                {
                    bestLoss = loss;
                    for (int i = 0; i < layers.Count; i++)
                    {
                        JointLearner.DisposeState(best[i]);
                        best[i] = layers[i].Codebook.Snapshot();
                    }
                }
                if (!learn || !double.IsFinite(loss)) break;
                for (int i = 0; i < layers.Count; i++)
                {
                    // The leaf is in stored order (the wrapper un-permutes inside the graph), so its gradient is too.
                    var g = leaves[i].grad ?? zeros_like(leaves[i]);
                    updaters[i].Step(g.to(layers[i].Codebook.Indices.device));
                }
            }
            for (int i = 0; i < layers.Count; i++)
            {
                layers[i].Codebook.Restore(best[i]);
                JointLearner.DisposeState(best[i]);
            }
            var corrections = correctBiases ? CorrectBiases(graph, block, inputs, layers, wrappers, device, cancellation) : layers.Select(_ => (Tensor?)null).ToList();
            return new Result(initial, bestLoss, updaters.Select(u => u.Moves).ToList(), corrections);
        }
        finally
        {
            for (int i = 0; i < layers.Count; i++)
            {
                model.ReplaceLayer(layers[i].Name, layers[i].Original, disposeOld: false);
                wrappers[i].BiasCorrection?.Dispose();
                wrappers[i].Dispose();
                updaters[i].Dispose();
            }
        }
    }

    /// <summary>Bias correction ([RECON], not in the paper; the bias correction of data-free quantization, Nagel et al.
    /// 2019, measured on the calibration data): layer by layer in block order, with the kept codebooks in place, the
    /// mean over calibration inputs, tokens and positions of (FP layer output − compressed layer output) on the same
    /// input is added to the layer's bias. A quantized filter whose weights no longer sum like the FP ones responds to
    /// the mean of its input (large after a ReLU, or for an image with a big offset) with an error that is the same
    /// for every input: this removes it.</summary>
    private static List<Tensor?> CorrectBiases(CompressibleModel graph, ModelBlock block, IReadOnlyList<Dictionary<string, Tensor>> inputs,
        IReadOnlyList<Layer> layers, IReadOnlyList<CodebookTrainingLayer> wrappers, Device device, CancellationToken cancellation)
    {
        using var noGrad = no_grad();
        using var scope0 = NewDisposeScope();
        for (int i = 0; i < layers.Count; i++) wrappers[i].Weight = layers[i].Codebook.Weight().to(device).detach();
        var corrections = new List<Tensor?>();
        for (int i = 0; i < layers.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            wrappers[i].DifferenceSum = zeros(layers[i].Codebook.Rows, device: device).DetachFromDisposeScope();
            wrappers[i].DifferenceCount = 0;
            foreach (var x in inputs)
            {
                using var scope = NewDisposeScope();
                graph.RunValues(x, block.Outputs);
            }
            var correction = wrappers[i].DifferenceSum!.div(Math.Max(1, wrappers[i].DifferenceCount)).DetachFromDisposeScope();
            wrappers[i].DifferenceSum!.Dispose();
            wrappers[i].DifferenceSum = null;
            wrappers[i].BiasCorrection = correction;
            corrections.Add(correction.clone().DetachFromDisposeScope());
        }
        foreach (var w in wrappers) w.Weight = null;
        return corrections;
    }

    private static Tensor BatchLoss(CompressibleModel graph, ModelBlock block, Dictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> targets)
    {
        var outs = graph.RunValues(inputs, block.Outputs);
        Tensor? sum = null;
        foreach (var name in block.Outputs)
        {
            var e = nn.functional.mse_loss(outs[name].to_type(ScalarType.Float32), targets[name].to_type(ScalarType.Float32));
            sum = sum is null ? e : sum.add(e);
        }
        return sum!;
    }
}
