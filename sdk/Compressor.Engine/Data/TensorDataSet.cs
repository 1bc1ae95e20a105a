using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>An in-memory data set over an input tensor [N, …] and optional targets [N].</summary>
public sealed class TensorDataSet : IDataSet, IDisposable
{
    private readonly Tensor _inputs;
    private readonly Tensor? _targets;

    /// <summary>Creates the set; it takes ownership of the tensors.</summary>
    public TensorDataSet(string name, Tensor inputs, Tensor? targets)
    {
        if (targets is not null && targets.shape[0] != inputs.shape[0])
            throw new ArgumentException($"{name}: {inputs.shape[0]} inputs but {targets.shape[0]} targets");
        Name = name;
        _inputs = inputs;
        _targets = targets;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public long Count => _inputs.shape[0];

    /// <summary>All inputs.</summary>
    public Tensor Inputs => _inputs;

    /// <summary>All targets, or null.</summary>
    public Tensor? Targets => _targets;

    /// <summary>A subset (copies) of the given sample indices.</summary>
    public TensorDataSet Subset(string name, long[] indices)
    {
        using var idx = tensor(indices, device: _inputs.device);
        return new TensorDataSet(name, _inputs.index_select(0, idx), _targets?.index_select(0, idx));
    }

    /// <inheritdoc/>
    public IEnumerable<DataBatch> Batches(int batchSize, bool shuffle = false, int seed = 0)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        long n = Count;
        long[] order = Enumerable.Range(0, checked((int)n)).Select(i => (long)i).ToArray();
        if (shuffle) new Random(seed).Shuffle(order);
        for (long start = 0; start < n; start += batchSize)
        {
            long len = Math.Min(batchSize, n - start);
            using var idx = tensor(order.AsSpan((int)start, (int)len).ToArray(), device: _inputs.device);
            yield return new DataBatch(_inputs.index_select(0, idx), _targets?.index_select(0, idx));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _inputs.Dispose();
        _targets?.Dispose();
    }
}
