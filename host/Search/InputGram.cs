using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Stands in for a linear layer during the Fisher pass: forwards to it unchanged (so its weight still gets its
/// gradient) and accumulates the Gram matrix of its input rows, A = Σ x xᵀ / rows [in, in] (float32, CPU), which
/// <see cref="FisherInformation"/> combines with the weight's Fisher diagonal. Held, not registered, so disposing the
/// stand-in leaves the layer.</summary>
public sealed class InputGram(TorchSharp.Modules.Linear inner) : nn.Module<Tensor, Tensor>(nameof(InputGram))
{
    private Tensor? _sum;
    private long _rows;

    /// <summary>The wrapped layer.</summary>
    public TorchSharp.Modules.Linear Inner => inner;

    /// <summary>A = Σ x xᵀ / rows (a new tensor), or null when the layer saw no input.</summary>
    public Tensor? Gram() => _sum is null || _rows == 0 ? null : _sum.div(_rows);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var x = input.detach().to_type(ScalarType.Float32).reshape(-1, inner.in_features).cpu();
            var g = x.t().matmul(x);
            if (_sum is null) _sum = g.DetachFromDisposeScope();
            else _sum.add_(g);
            _rows += x.shape[0];
        }
        return inner.forward(input);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _sum?.Dispose();
        base.Dispose(disposing);
    }
}
