using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Engine.Training;

/// <summary>Loss and task metrics of a model on a data set, in TorchSharp (the ONNX Runtime evaluation is separate).</summary>
public static class Evaluation
{
    /// <summary>Mean cross-entropy (per sample for images, per token for tokens), accuracy (images) and perplexity (tokens).</summary>
    public static (double Loss, double? Accuracy, double? Perplexity) Run(CompressibleModel model, IDataSet data, DataKind kind, int batchSize, Device device)
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
                var loss = Loss(logits, y, kind);
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

    /// <summary>Cross-entropy of logits [B, C] vs labels [B], or [B, T, V] vs next tokens [B, T].</summary>
    public static Tensor Loss(Tensor logits, Tensor targets, DataKind kind) => kind == DataKind.Images
        ? nn.functional.cross_entropy(logits, targets)
        : nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));
}
