using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>A data set whose inputs are transformed batch by batch (e.g. resized images), so that nothing larger than
/// one transformed batch is ever held.</summary>
public sealed class MappedDataSet(IDataSet inner, Func<Tensor, Tensor> map, string? name = null) : IDataSet, IDisposable
{
    /// <inheritdoc/>
    public string Name => name ?? inner.Name;

    /// <inheritdoc/>
    public long Count => inner.Count;

    /// <inheritdoc/>
    public IEnumerable<DataBatch> Batches(int batchSize, bool shuffle = false, int seed = 0)
    {
        foreach (var b in inner.Batches(batchSize, shuffle, seed))
        {
            Tensor mapped;
            using (b.Input) mapped = map(b.Input);
            yield return new DataBatch(mapped, b.Target);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => (inner as IDisposable)?.Dispose();
}
