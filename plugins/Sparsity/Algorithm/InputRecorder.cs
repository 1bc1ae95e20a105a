using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Stands in for a linear while calibration batches run and keeps up to <paramref name="limit"/> of its
/// input rows (the last dimension is the feature axis; all leading positions are tokens). The wrapped layer is held,
/// not registered, so disposing the recorder never disposes it.</summary>
internal sealed class InputRecorder(nn.Module<Tensor, Tensor> inner, long features, int limit) : nn.Module<Tensor, Tensor>(nameof(InputRecorder))
{
    private readonly List<Tensor> _rows = [];
    private long _count;

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> Inner => inner;

    /// <summary>Whether enough rows were recorded.</summary>
    public bool Full => _count >= limit;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (_count < limit)
        {
            var rows = input.detach().reshape(-1, features);
            long take = Math.Min(rows.shape[0], limit - _count);
            _rows.Add(rows.narrow(0, 0, take).to_type(ScalarType.Float32).clone().DetachFromDisposeScope());   // on the model's device
            _count += take;
        }
        return inner.forward(input);
    }

    /// <summary>The recorded rows [tokens, features] (caller owns).</summary>
    public Tensor Rows() => _rows.Count == 0 ? zeros(0, features, device: inner.parameters().First().device) : cat(_rows, 0);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        foreach (var r in _rows) r.Dispose();
        base.Dispose(disposing);
    }
}
