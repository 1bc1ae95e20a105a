using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Stands in for a Linear or Conv2d layer during a calibration pass: forwards to it unchanged and
/// accumulates H = XᵀX/N of its inputs (a linear's rows of the last dimension; a convolution's im2col patches in the
/// [in·kh·kw] order of its flattened weight). Held, not registered, so disposing the wrapper leaves the layer.</summary>
public sealed class LayerInputStatistics(nn.Module<Tensor, Tensor> inner) : nn.Module<Tensor, Tensor>(nameof(LayerInputStatistics))
{
    private Tensor? _sum;
    private long _count;

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> Inner => inner;

    /// <summary>Input rows seen.</summary>
    public long Count => _count;

    /// <summary>H = XᵀX/N [I, I] (float32), a new tensor.</summary>
    public Tensor Hessian() => _sum is null || _count == 0
        ? throw new CompressException(ErrorKind.InvalidInput, "jlcm: a layer saw no calibration input (is it used by the model's forward?)")
        : _sum.div(_count);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using (var scope = NewDisposeScope())
        {
            var rows = Rows(input.detach().to_type(ScalarType.Float32));
            var xtx = rows.t().matmul(rows);
            if (_sum is null) _sum = xtx.DetachFromDisposeScope();
            else _sum.add_(xtx);
            _count += rows.shape[0];
        }
        return inner.forward(input);
    }

    private Tensor Rows(Tensor x) => inner switch
    {
        TorchSharp.Modules.Linear l => x.reshape(-1, l.in_features),
        TorchSharp.Modules.Conv2d c => nn.functional.unfold(x, (c.kernel_size[0], c.kernel_size[1]), (c.dilation[0], c.dilation[1]),
            (c.padding![0], c.padding[1]), (c.stride[0], c.stride[1])).transpose(1, 2).reshape(-1, c.in_channels * c.kernel_size[0] * c.kernel_size[1]),
        _ => throw new ArgumentException($"no input statistics for {inner.GetType().Name}"),
    };

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _sum?.Dispose();
        base.Dispose(disposing);
    }
}
