namespace Compressor.Engine.Evaluation;

/// <summary>Accumulates how closely a model's outputs follow a reference's, row by row (a row is one sample's logits,
/// or one token position's): mean cosine similarity, top-1 agreement, and mean KL(softmax(reference) ‖ softmax(model))
/// in nats.</summary>
internal sealed class FidelityAccumulator
{
    private double _cosine, _agree, _kl;
    private long _rows;

    public void Add(float[] candidate, float[] reference, long[] shape)
    {
        if (candidate.Length != reference.Length)
            throw new CompressException(ErrorKind.InvalidInput, $"the model and the reference give outputs of different sizes ({candidate.Length} vs {reference.Length} values per batch)");
        int width = (int)shape[^1];
        for (int start = 0; start < candidate.Length; start += width)
        {
            var c = new ReadOnlySpan<float>(candidate, start, width);
            var r = new ReadOnlySpan<float>(reference, start, width);
            double dot = 0, nc = 0, nr = 0;
            for (int i = 0; i < width; i++)
            {
                dot += (double)c[i] * r[i];
                nc += (double)c[i] * c[i];
                nr += (double)r[i] * r[i];
            }
            _cosine += nc == 0 || nr == 0 ? (nc == nr ? 1 : 0) : dot / Math.Sqrt(nc * nr);   // a zero vector matches only a zero vector
            _agree += Softmax.ArgMax(c) == Softmax.ArgMax(r) ? 1 : 0;
            double lc = Softmax.LogSumExp(c), lr = Softmax.LogSumExp(r), kl = 0;
            for (int i = 0; i < width; i++)
            {
                double logP = r[i] - lr, logQ = c[i] - lc;
                kl += Math.Exp(logP) * (logP - logQ);
            }
            _kl += Math.Max(0, kl);
            _rows++;
        }
    }

    public double Cosine => _cosine / Math.Max(1, _rows);
    public double Agreement => _agree / Math.Max(1, _rows);
    public double KlDivergence => _kl / Math.Max(1, _rows);
}
