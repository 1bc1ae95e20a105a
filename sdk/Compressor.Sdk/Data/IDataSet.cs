namespace Compressor.Sdk.Data;

/// <summary>A data set that yields batches of CPU tensors. Each batch is disposed by the caller.</summary>
public interface IDataSet
{
    /// <summary>Name for reports, e.g. <c>digits/test</c>.</summary>
    string Name { get; }

    /// <summary>Number of samples.</summary>
    long Count { get; }

    /// <summary>Batches in order, or shuffled by <paramref name="seed"/> (the same seed gives the same order).</summary>
    IEnumerable<DataBatch> Batches(int batchSize, bool shuffle = false, int seed = 0);
}
