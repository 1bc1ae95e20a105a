using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>What <see cref="FisherInformation"/> knows of one layer: its weight's Fisher diagonal and, for a linear
/// layer, the Gram matrix of its inputs (null otherwise).</summary>
public sealed record LayerFisher(Tensor Diagonal, Tensor? InputGram) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Diagonal.Dispose();
        InputGram?.Dispose();
    }
}
