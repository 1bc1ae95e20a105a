using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Tracks the integer code of every weight of one tensor over training steps (Nagel et al. 2022; OFQ ships the
/// same logic; README "Oscillation metric"): with δ_t = q_{t−1} − q_t and dir_t = sign(δ_t), an oscillation event
/// happens when dir_t·last_dir = −1, last_dir being the direction of the most recent non-zero change; the EMA frequency
/// is f_t = m·o_t + (1 − m)·f_{t−1} with m = 0.01; the cumulative count and the step of the last event are kept
/// too.</summary>
public sealed class OscillationTracker : IDisposable
{
    /// <summary>The EMA momentum m.</summary>
    public const double Momentum = 0.01;

    private Tensor? _previous, _lastDirection, _frequency, _count, _lastEvent;

    /// <summary>Steps recorded so far (the first call only sets the starting codes).</summary>
    public long Steps { get; private set; }

    /// <summary>Events at the most recent step.</summary>
    public long LastStepEvents { get; private set; }

    /// <summary>Records the codes after one training step.</summary>
    public void Update(Tensor codes)
    {
        using var scope = NewDisposeScope();
        var q = codes.detach().to_type(ScalarType.Int64).flatten();
        if (_previous is null)
        {
            _previous = q.clone().DetachFromDisposeScope();
            _lastDirection = zeros_like(q).DetachFromDisposeScope();
            _frequency = zeros(q.shape, ScalarType.Float64, device: q.device).DetachFromDisposeScope();
            _count = zeros_like(q).DetachFromDisposeScope();
            _lastEvent = full(q.shape, -1L, ScalarType.Int64, device: q.device).DetachFromDisposeScope();
            return;
        }
        Steps++;
        var dir = _previous.sub(q).sign();
        var events = dir.mul(_lastDirection!).eq(-1);
        LastStepEvents = events.sum().item<long>();
        _lastDirection!.copy_(where(dir.ne(0), dir, _lastDirection));
        _frequency!.mul_(1 - Momentum).add_(events.to_type(ScalarType.Float64).mul(Momentum));
        _count!.add_(events.to_type(ScalarType.Int64));
        _lastEvent!.copy_(where(events, full_like(_lastEvent, Steps), _lastEvent));
        _previous.copy_(q);
    }

    /// <summary>Number of weights tracked.</summary>
    public long Count => _previous?.numel() ?? 0;

    /// <summary>Share of weights whose EMA frequency exceeds <paramref name="threshold"/> (M1).</summary>
    public double FractionAboveFrequency(double threshold) =>
        _frequency is null ? 0 : _frequency.gt(threshold).to_type(ScalarType.Float64).mean().item<double>();

    /// <summary>Share of weights with at least one event in the last <paramref name="window"/> steps (M2).</summary>
    public double FractionReversedWithin(long window) =>
        _lastEvent is null ? 0 : _lastEvent.gt(Steps - window).logical_and(_lastEvent.ge(0)).to_type(ScalarType.Float64).mean().item<double>();

    /// <summary>Mean events per weight per 1000 steps (M3).</summary>
    public double EventsPerThousandSteps => _count is null || Steps == 0 ? 0 : _count.to_type(ScalarType.Float64).mean().item<double>() * 1000 / Steps;

    /// <summary>Events per weight so far.</summary>
    public Tensor EventCounts => _count ?? throw new InvalidOperationException("no step recorded");

    /// <summary>EMA frequencies per weight.</summary>
    public Tensor Frequencies => _frequency ?? throw new InvalidOperationException("no step recorded");

    /// <summary>The tracker's state as named tensors (for a resumable run's checkpoint; empty before the first update).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> State()
    {
        if (_previous is null) yield break;
        yield return ("previous", _previous);
        yield return ("last_direction", _lastDirection!);
        yield return ("frequency", _frequency!);
        yield return ("count", _count!);
        yield return ("last_event", _lastEvent!);
        yield return ("steps", tensor(new[] { Steps, LastStepEvents }, device: CPU));
    }

    /// <summary>Restores <see cref="State"/> (tensors by the same names; copies them).</summary>
    public void Restore(Func<string, Tensor> read)
    {
        Dispose();
        _previous = read("previous").clone().DetachFromDisposeScope();
        _lastDirection = read("last_direction").clone().DetachFromDisposeScope();
        _frequency = read("frequency").clone().DetachFromDisposeScope();
        _count = read("count").clone().DetachFromDisposeScope();
        _lastEvent = read("last_event").clone().DetachFromDisposeScope();
        using var steps = read("steps");
        Steps = steps[0].item<long>();
        LastStepEvents = steps[1].item<long>();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { _previous, _lastDirection, _frequency, _count, _lastEvent }) t?.Dispose();
        _previous = _lastDirection = _frequency = _count = _lastEvent = null;
    }
}
