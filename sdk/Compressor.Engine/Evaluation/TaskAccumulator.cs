using Compressor.Sdk.Data;

namespace Compressor.Engine.Evaluation;

/// <summary>Accumulates the task metric over batches: top-1 accuracy (images: logits [B, C] vs labels [B]) or
/// perplexity (tokens: logits [B, T, V] vs next tokens [B, T], exp of the mean cross-entropy), in double precision.</summary>
internal sealed class TaskAccumulator(DataKind kind)
{
    private double _correct, _crossEntropy;
    private long _count;

    public void Add(float[] logits, long[] shape, long[] targets)
    {
        int classes = (int)shape[^1];
        long rows = logits.Length / classes;
        if (rows != targets.Length)
            throw new CompressException(ErrorKind.InvalidInput, $"the model's output has {rows} rows of {classes} values; the batch has {targets.Length} targets");
        for (long r = 0; r < rows; r++)
        {
            var row = new ReadOnlySpan<float>(logits, (int)(r * classes), classes);
            long t = targets[r];
            if (t < 0 || t >= classes)
                throw new CompressException(ErrorKind.InvalidInput, $"target {t} is outside the model's {classes} outputs");
            if (kind == DataKind.Images) _correct += Softmax.ArgMax(row) == t ? 1 : 0;
            else _crossEntropy += Softmax.LogSumExp(row) - row[(int)t];
            _count++;
        }
    }

    /// <summary>Accuracy (images) or perplexity (tokens).</summary>
    public double Value => kind == DataKind.Images ? _correct / Math.Max(1, _count) : Math.Exp(_crossEntropy / Math.Max(1, _count));

    public long Count => _count;
}
