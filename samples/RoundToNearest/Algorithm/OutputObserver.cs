using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>What a layer writes during calibration (README, "Calibration"): the global minimum and maximum and a seeded
/// sample of the values, from which <see cref="StaticRange"/> computes the static uint8 grid of a convolution's output
/// (the requantization of <c>QLinearConv</c>).</summary>
internal sealed class OutputObserver : IDisposable
{
    private readonly Generator _random;
    private readonly List<Tensor> _samples = [];
    private long _sampled;

    public OutputObserver(int seed) => _random = new Generator((ulong)seed);

    /// <summary>Whether the layer's output only reaches the model through a ReLU: the values are recorded rectified
    /// (max(y, 0)), so the grid starts at 0.</summary>
    public bool Rectified { get; init; }

    /// <summary>The smallest value seen.</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest value seen.</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>The sampled values, flat (a new tensor).</summary>
    public Tensor Samples() => _samples.Count == 0 ? empty(0, device: CPU) : cat(_samples, 0);

    /// <summary>Records <paramref name="y"/>.</summary>
    public void Observe(Tensor y)
    {
        using (no_grad())
        using (NewDisposeScope())
        {
            var f = y.detach().to_type(ScalarType.Float32).cpu();
            if (Rectified) f = f.clamp_min(0);
            Min = Math.Min(Min, f.min().item<float>());
            Max = Math.Max(Max, f.max().item<float>());
            if (_sampled >= InputObserver.MaximumSamples) return;
            var flat = f.flatten();
            var take = flat.numel() <= InputObserver.SamplesPerBatch ? flat.clone()
                : flat.index_select(0, randint(0, flat.numel(), [InputObserver.SamplesPerBatch], generator: _random, dtype: ScalarType.Int64, device: CPU));
            _samples.Add(take.DetachFromDisposeScope());
            _sampled += take.numel();
        }
    }

    public void Dispose()
    {
        foreach (var s in _samples) s.Dispose();
        _random.Dispose();
    }
}
