using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>Stands in for a layer during calibration: runs it unchanged and records what it reads — the per-channel
/// max |x| of the last axis (SmoothQuant), the global minimum and maximum, a seeded sample of the values (percentile
/// and MSE ranges) and, on the first batch, the identity of the input tensor (layers reading the same tensor share a
/// producer). The layer is not registered as a child, so disposing the observer leaves it alone.</summary>
internal sealed class InputObserver : nn.Module<Tensor, Tensor>
{
    /// <summary>Values kept per batch, and in all (a uniform sample of each batch, the first batches first).</summary>
    public const int SamplesPerBatch = 1 << 16, MaximumSamples = 1 << 20;

    private readonly nn.Module<Tensor, Tensor> _inner;
    private readonly Generator _random;
    private readonly List<Tensor> _samples = [];
    private long _sampled;

    public InputObserver(nn.Module<Tensor, Tensor> inner, int seed) : base("input_observer")
    {
        _inner = inner;
        _random = new Generator((ulong)seed);
    }

    /// <summary>The observed layer.</summary>
    public nn.Module<Tensor, Tensor> Inner => _inner;

    /// <summary>max |x| per channel of the last axis, or null before the first batch.</summary>
    public Tensor? ChannelMax { get; private set; }

    /// <summary>The smallest value seen.</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest value seen.</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>The first batch's input tensor object (layers that read one value are handed the same object).</summary>
    public object? FirstInput { get; private set; }

    /// <summary>Whether the input is channels-last (a linear's [..., C]); a convolution's is [N, C, H, W].</summary>
    public bool ChannelsLast { get; set; } = true;

    /// <summary>When set, also records what the layer writes (a static convolution's output grid).</summary>
    public OutputObserver? Output { get; set; }

    /// <summary>The sampled values, flat (a new tensor).</summary>
    public Tensor Samples() => _samples.Count == 0 ? empty(0, device: CPU) : cat(_samples, 0);

    public override Tensor forward(Tensor x)
    {
        using (no_grad())
        using (NewDisposeScope())
        {
            FirstInput ??= x;
            var f = x.detach().to_type(ScalarType.Float32).cpu();
            Min = Math.Min(Min, f.min().item<float>());
            Max = Math.Max(Max, f.max().item<float>());
            if (ChannelsLast)
            {
                var channel = f.abs().reshape(-1, f.shape[^1]).amax([0L]);
                var merged = ChannelMax is null ? channel : maximum(ChannelMax, channel);
                ChannelMax?.Dispose();
                ChannelMax = merged.DetachFromDisposeScope();
            }
            if (_sampled < MaximumSamples)
            {
                var flat = f.flatten();
                var take = flat.numel() <= SamplesPerBatch ? flat.clone() : flat.index_select(0, randint(0, flat.numel(), [SamplesPerBatch], generator: _random, dtype: ScalarType.Int64, device: CPU).to(flat.device));
                _samples.Add(take.DetachFromDisposeScope());
                _sampled += take.numel();
            }
        }
        var y = _inner.forward(x);
        Output?.Observe(y);
        return y;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var s in _samples) s.Dispose();
            ChannelMax?.Dispose();
            Output?.Dispose();
            _random.Dispose();
        }
        base.Dispose(disposing);
    }
}
