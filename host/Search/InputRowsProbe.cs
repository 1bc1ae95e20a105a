using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Stands in for a linear layer during one forward pass: records how many rows its input has (the product of
/// every dimension but the last: batch × positions) and forwards to the layer unchanged. Held, not registered, so
/// disposing the stand-in leaves the layer.</summary>
public sealed class InputRowsProbe(TorchSharp.Modules.Linear inner) : nn.Module<Tensor, Tensor>(nameof(InputRowsProbe))
{
    /// <summary>The wrapped layer.</summary>
    public TorchSharp.Modules.Linear Inner => inner;

    /// <summary>Rows of the last input (0 before any).</summary>
    public long Rows { get; private set; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        Rows = input.numel() / Math.Max(1, inner.in_features);
        return inner.forward(input);
    }
}
