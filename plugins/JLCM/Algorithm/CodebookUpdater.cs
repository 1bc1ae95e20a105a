using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>One layer's optimiser state for joint learning ([RECON] README "Joint learning" and "Mapping gradient"),
/// shared by the layer and the block objectives: given g = dL/dŴ for the layer's current Ŵ (stored row order),
/// <see cref="Step"/> gives the codebooks and scales their exact autograd gradient and an Adam step (learning rate
/// relative to their mean magnitude), gives the latent indices the mapping gradient (<see cref="MappingGradient"/>) and
/// an Adam step whose second moment is taken over the whole layer rather than per element (per-element Adam would
/// divide out the Δ or 1/Δ that tells the two mapping gradients apart), then rounds k = clamp(round(u), 0, K−1),
/// re-sorts the codebooks and records the index moves.</summary>
public sealed class CodebookUpdater : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-12;
    private readonly GroupedCodebook _cb;
    private readonly List<optim.Optimizer> _optimisers;
    private readonly double _indexLr;
    private readonly MappingGradientKind _kind;
    private readonly Tensor _m;
    private double _v;
    private int _t;

    /// <summary>Starts learning <paramref name="cb"/>.</summary>
    public CodebookUpdater(GroupedCodebook cb, double indexLr, double codebookLr, MappingGradientKind kind)
    {
        _cb = cb;
        _indexLr = indexLr;
        _kind = kind;
        _m = zeros_like(cb.Latent).DetachFromDisposeScope();
        _optimisers =
        [
            optim.Adam([cb.Codebooks], lr: codebookLr * Math.Max(1e-12, cb.Codebooks.detach().abs().mean().item<float>())),
        ];
        if (cb.Scales is not null)
            _optimisers.Add(optim.Adam([cb.Scales], lr: codebookLr * Math.Max(1e-12, cb.Scales.detach().abs().mean().item<float>())));
    }

    /// <summary>Index moves per update.</summary>
    public IndexMoveStats Moves { get; } = new();

    /// <summary>One update from <paramref name="g"/> = dL/dŴ [O, I] (stored order) at the codebook's current state.</summary>
    public void Step(Tensor g)
    {
        using var scope = NewDisposeScope();
        foreach (var o in _optimisers) o.zero_grad();
        var approx = _cb.Weight();
        approx.backward([g]);                                   // exact codebook / scale gradients
        var gu = MappingGradient.Compute(g, _cb.Indices, _cb.RowCodewords().detach(), _kind);
        _m.mul_(Beta1).add_(gu, alpha: 1 - Beta1);
        _v = Beta2 * _v + (1 - Beta2) * gu.square().mean().item<float>();
        _t++;
        double mScale = 1 / (1 - Math.Pow(Beta1, _t)), vHat = _v / (1 - Math.Pow(Beta2, _t));
        var latent = _cb.Latent.sub(_m.mul(_indexLr * mScale / (Math.Sqrt(vHat) + Eps))).clamp(-0.49, _cb.K - 1 + 0.49);
        foreach (var o in _optimisers) o.step();
        var indices = latent.round().to_type(ScalarType.Int64).clamp(0, _cb.K - 1);
        Moves.Record(_cb.Indices, indices, _cb.K);
        _cb.SetIndices(indices.MoveToOuterDisposeScope(), latent.MoveToOuterDisposeScope());
        _cb.SortCodebooks();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // The Adam moments live outside every dispose scope; the optimisers own them.
        foreach (var o in _optimisers) o.Dispose();
        _m.Dispose();
    }
}
