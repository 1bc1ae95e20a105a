using Compressor.Layers.Structured;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>A structured linear under self-guided training: o = α·(W_g x) + (1 − α)·S(x) + b with a trainable dense
/// guide W_g [M, N], α from <see cref="SgtSchedule"/> at the layer's own step counter (a buffer, so it is saved with
/// the training state). Each training-mode forward is one step: the counter advances after it. In reduce-flop mode
/// a training forward uses the guide path with probability α (Bernoulli, a draw that depends only on the layer's seed and step) and
/// returns the pure structured output S(x) + b otherwise. Evaluation-mode forwards mix deterministically. After the
/// guided phase the wrapper is replaced by <see cref="Structured"/> (the guide is dropped).</summary>
public sealed class SelfGuidedLinear : nn.Module<Tensor, Tensor>
{
    private readonly int _seed;

    /// <summary>Wraps <paramref name="structured"/> with the guide <paramref name="guide"/> [M, N] (copied).</summary>
    public SelfGuidedLinear(StructuredLinear structured, Tensor guide, long guidedSteps, bool reduceFlop, int seed) : base(nameof(SelfGuidedLinear))
    {
        if (!guide.shape.SequenceEqual(structured.DenseWeightShape))
            throw new ArgumentException($"guide shape [{string.Join(", ", guide.shape)}] differs from the layer's [{string.Join(", ", structured.DenseWeightShape)}]");
        Structured = structured;
        Guide = nn.Parameter(guide.detach().clone().to(structured.parameters().First().device).DetachFromDisposeScope());
        Guide.DetachFromDisposeScope();
        StepCounter = zeros(1, ScalarType.Int64, device: Guide.device).DetachFromDisposeScope();
        GuidedSteps = guidedSteps;
        ReduceFlop = reduceFlop;
        _seed = seed;
        register_module("structured", structured);
        register_parameter("guide", Guide);
        register_buffer("sgt_step", StepCounter);
    }

    /// <summary>The structured layer being trained.</summary>
    public StructuredLinear Structured { get; }

    /// <summary>The dense guide W_g [M, N].</summary>
    public TorchSharp.Modules.Parameter Guide { get; }

    /// <summary>The step counter (int64 [1]).</summary>
    public Tensor StepCounter { get; }

    /// <summary>S_g: steps over which α decays to 0.</summary>
    public long GuidedSteps { get; }

    /// <summary>Bernoulli reduce-flop mode.</summary>
    public bool ReduceFlop { get; }

    /// <summary>Training forwards that used the guide path.</summary>
    public long GuideUses { get; private set; }

    /// <summary>The current step.</summary>
    public long Step => StepCounter.item<long>();

    /// <summary>α at the current step.</summary>
    public double Alpha => SgtSchedule.Alpha(Step, GuidedSteps);

    /// <summary>A uniform draw in [0, 1) that depends only on (seed, step) (SplitMix64), so that a resumed run draws
    /// the same Bernoulli outcomes as an uninterrupted one.</summary>
    public static double Uniform(int seed, long step)
    {
        ulong z = unchecked(((ulong)(uint)seed << 32) ^ (ulong)step) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        long step = Step;
        double alpha = SgtSchedule.Alpha(step, GuidedSteps);
        if (training)
            using (no_grad()) StepCounter.add_(1);
        bool guided = alpha > 0 && (!training || !ReduceFlop || Uniform(_seed, step) < alpha);
        if (!guided) return Structured.forward(input);
        if (training) GuideUses++;
        using var scope = NewDisposeScope();
        var s = Structured.ForwardStructured(input);
        var g = nn.functional.linear(input, Guide);
        var y = g.mul(alpha).add(s.mul(1 - alpha));
        if (Structured.Bias is { } b) y = y.add(b);
        return y.MoveToOuterDisposeScope();
    }
}
