using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Sdk.Training;

/// <summary>The task loss and metrics of a model on labelled data, in TorchSharp: cross-entropy per sample for images
/// (with accuracy) and per token for next-token prediction (with perplexity). What the exported file does on ONNX
/// Runtime is measured by the host separately.</summary>
public static class TaskLoss
{
    /// <summary>Cross-entropy of logits [B, C] against labels [B] (images), or of logits [B, T, V] against next tokens
    /// [B, T] (tokens).</summary>
    public static Tensor Of(Tensor logits, Tensor targets, DataKind kind) => kind == DataKind.Images
        ? nn.functional.cross_entropy(logits, targets)
        : nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

    /// <summary>Mean loss over <paramref name="data"/> (in evaluation mode, without gradients), with the accuracy for
    /// images and the perplexity for tokens.</summary>
    public static (double Loss, double? Accuracy, double? Perplexity) Evaluate(CompressibleModel model, IDataSet data, DataKind kind, int batchSize, Device device)
    {
        double lossSum = 0, correct = 0, count = 0;
        using var noGrad = no_grad();
        bool wasTraining = model.Module.training;
        model.Module.eval();
        try
        {
            foreach (var batch in data.Batches(batchSize))
            {
                using var scope = NewDisposeScope();
                using var b = batch;
                var x = b.Input.to(device);
                var y = b.Target!.to(device);
                var logits = model.Forward(x);
                var loss = Of(logits, y, kind);
                long n = y.numel();
                lossSum += loss.item<float>() * n;
                count += n;
                if (kind == DataKind.Images) correct += logits.argmax(-1).eq(y).sum().item<long>();
            }
        }
        finally
        {
            model.Module.train(wasTraining);
        }
        double mean = lossSum / Math.Max(1, count);
        return kind == DataKind.Images ? (mean, correct / Math.Max(1, count), null) : (mean, null, Math.Exp(mean));
    }
}
