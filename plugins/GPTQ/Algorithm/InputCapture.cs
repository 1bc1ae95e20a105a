using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Stands in for a Linear or Conv2d layer during calibration passes (README "Calibration"): forwards to it
/// unchanged and records what GPTQ and AWQ need of its inputs — H = 2·XᵀX/N over the input rows X (a linear's rows of
/// the last dimension; a convolution's im2col patches in the [in·kh·kw] order of its flattened weight), the mean |x| per
/// input channel, a seeded sample of input rows, a fingerprint of its first input (layers reading the same value share
/// it) and the order of first use; rows at padding positions of token inputs are left out. A non-finite input stops
/// the run naming the layer. Held, not registered, so
/// disposing the stand-in leaves the layer.</summary>
public sealed class InputCapture : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _inner;
    private readonly string _layer;
    private readonly bool _hessian;
    private readonly int _rowsPerCall;
    private readonly Generator? _sampler;
    private Tensor? _sum, _absSum;
    private long _channelCount;
    private readonly List<Tensor> _rows = [];
    private readonly Func<Tensor?>? _tokenMask;
    private static long _clock;

    /// <summary>Wraps <paramref name="inner"/> (the layer named <paramref name="layer"/>).</summary>
    /// <param name="inner">The Linear or Conv2d.</param>
    /// <param name="layer">Its name, for messages.</param>
    /// <param name="hessian">Accumulate H.</param>
    /// <param name="rowsPerCall">Input rows to keep per call (0: none), drawn with <paramref name="seed"/>.</param>
    /// <param name="seed">Seed of the row sample.</param>
    /// <param name="tokenMask">The current batch's real-token positions [N·T] (null: every row counts); rows of a
    /// [N, T, C] input at padding positions are left out.</param>
    public InputCapture(nn.Module<Tensor, Tensor> inner, string layer, bool hessian, int rowsPerCall, long seed, Func<Tensor?>? tokenMask = null) : base(nameof(InputCapture))
    {
        _tokenMask = tokenMask;
        _inner = inner;
        _layer = layer;
        _hessian = hessian;
        _rowsPerCall = rowsPerCall;
        if (rowsPerCall > 0) _sampler = new Generator((ulong)seed);
    }

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> Inner => _inner;

    /// <summary>Input rows seen.</summary>
    public long Count { get; private set; }

    /// <summary>When the layer first ran (a process-wide counter: smaller ran earlier).</summary>
    public long FirstUse { get; private set; } = long.MaxValue;

    /// <summary>A fingerprint of the first input (shape and three sums), equal for layers that read the same value.</summary>
    public string? Fingerprint { get; private set; }

    /// <summary>H = 2·XᵀX/N [I, I] (float32), a new tensor.</summary>
    /// <exception cref="CompressException">The layer saw no input.</exception>
    public Tensor Hessian() => _sum is null || Count == 0
        ? throw new CompressException(ErrorKind.PluginFailed, $"gptq: layer '{_layer}' saw no calibration input (is it used by the model's forward?)")
        : _sum.mul(2.0 / Count);

    /// <summary>Mean |x| per input channel [C] (a convolution's input planes; a linear's over the rows kept), a new tensor.</summary>
    public Tensor MeanAbs() => _absSum is null ? throw new InvalidOperationException("no input seen") : _absSum.div(Math.Max(1, _channelCount));

    /// <summary>The sampled input rows [n, I] (float32), a new tensor.</summary>
    public Tensor SampledRows() => _rows.Count == 0 ? throw new InvalidOperationException("no rows kept") : cat(_rows, 0);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var x = input.detach().to_type(ScalarType.Float32);
            if (!x.isfinite().all().item<bool>())
                throw new CompressException(ErrorKind.PluginFailed, $"gptq: layer '{_layer}' received non-finite activations (NaN or Inf) from the calibration data");
            if (FirstUse == long.MaxValue)
            {
                FirstUse = Interlocked.Increment(ref _clock);
                Fingerprint = $"{string.Join("x", x.shape)}:{x.sum().item<float>():R}:{x.square().sum().item<float>():R}:{x.flatten()[0].item<float>():R}";
            }
            var rows = Rows(x);
            if (x.dim() == 3 && _tokenMask?.Invoke() is { } mask && mask.numel() == rows.shape[0]) rows = rows.index_select(0, mask.nonzero().flatten());
            Count += rows.shape[0];
            if (_hessian)
            {
                var xtx = rows.t().matmul(rows);
                if (_sum is null) _sum = xtx.DetachFromDisposeScope();
                else _sum.add_(xtx);
            }
            var abs = x.abs();
            var channelMeans = x.dim() == 4 ? abs.sum([0, 2, 3]) : rows.abs().sum([0L]);
            _channelCount += x.dim() == 4 ? x.shape[0] * x.shape[2] * x.shape[3] : rows.shape[0];
            if (_absSum is null) _absSum = channelMeans.DetachFromDisposeScope();
            else _absSum.add_(channelMeans);
            if (_rowsPerCall > 0)
            {
                var pick = rows.shape[0] <= _rowsPerCall ? rows : rows.index_select(0, randperm(rows.shape[0], generator: _sampler, device: CPU).narrow(0, 0, _rowsPerCall).to(rows.device));
                _rows.Add(pick.clone().DetachFromDisposeScope());
            }
        }
        return _inner.forward(input);
    }

    private Tensor Rows(Tensor x) => _inner switch
    {
        TorchSharp.Modules.Linear l => x.reshape(-1, l.in_features),
        TorchSharp.Modules.Conv2d c => nn.functional.unfold(x, (c.kernel_size[0], c.kernel_size[1]), (c.dilation[0], c.dilation[1]),
            (c.padding![0], c.padding[1]), (c.stride[0], c.stride[1])).transpose(1, 2).reshape(-1, c.in_channels * c.kernel_size[0] * c.kernel_size[1]),
        _ => throw new ArgumentException($"gptq: no input statistics for {_inner.GetType().Name}"),
    };

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sum?.Dispose();
            _absSum?.Dispose();
            foreach (var r in _rows) r.Dispose();
            _rows.Clear();
        }
        base.Dispose(disposing);
    }
}
