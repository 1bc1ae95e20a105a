using static TorchSharp.torch;

namespace Compressor.Sdk.Data;

/// <summary>One batch: inputs and, for labelled data, integer targets. Dispose it when done.</summary>
public sealed class DataBatch : IDisposable
{
    /// <summary>Creates a batch that owns its tensors.</summary>
    public DataBatch(Tensor input, Tensor? target)
    {
        Input = input;
        Target = target;
    }

    /// <summary>Inputs [batch, …].</summary>
    public Tensor Input { get; }

    /// <summary>Targets [batch] (int64 class ids), or null for unlabelled data.</summary>
    public Tensor? Target { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Input.Dispose();
        Target?.Dispose();
    }
}
