using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Per update of the latent indices: how many indices moved by |Δk| = 1, 2 and ≥ 3, and the share of
/// weights on the two extreme codewords (0 and K−1) — the diagnostics of README "Mapping gradient" (the J2
/// contrast).</summary>
public sealed class IndexMoveStats
{
    /// <summary>Moves of exactly one codeword, per update.</summary>
    public List<long> MovesOne { get; } = [];

    /// <summary>Moves of two codewords, per update.</summary>
    public List<long> MovesTwo { get; } = [];

    /// <summary>Moves of three or more codewords, per update.</summary>
    public List<long> MovesThreeOrMore { get; } = [];

    /// <summary>Share of indices equal to 0 or K−1, per update (after it).</summary>
    public List<double> ExtremeShare { get; } = [];

    /// <summary>Total moves of each size.</summary>
    public (long One, long Two, long ThreeOrMore) Totals => (MovesOne.Sum(), MovesTwo.Sum(), MovesThreeOrMore.Sum());

    /// <summary>Share of all moves that were ±1 (1 when nothing moved).</summary>
    public double ShareOfUnitMoves
    {
        get
        {
            var (one, two, more) = Totals;
            long all = one + two + more;
            return all == 0 ? 1 : (double)one / all;
        }
    }

    /// <summary>Records one update from the indices before and after it (same codebook order).</summary>
    public void Record(Tensor before, Tensor after, long k)
    {
        using var scope = NewDisposeScope();
        var d = after.sub(before).abs();
        MovesOne.Add(d.eq(1).sum().item<long>());
        MovesTwo.Add(d.eq(2).sum().item<long>());
        MovesThreeOrMore.Add(d.ge(3).sum().item<long>());
        ExtremeShare.Add(after.eq(0).logical_or(after.eq(k - 1)).to_type(ScalarType.Float32).mean().item<float>());
    }

    /// <summary>Adds another layer's statistics update by update (for a model-wide series).</summary>
    public void Accumulate(IndexMoveStats other, double weight)
    {
        for (int i = 0; i < other.MovesOne.Count; i++)
        {
            if (i == MovesOne.Count) { MovesOne.Add(0); MovesTwo.Add(0); MovesThreeOrMore.Add(0); ExtremeShare.Add(0); }
            MovesOne[i] += other.MovesOne[i];
            MovesTwo[i] += other.MovesTwo[i];
            MovesThreeOrMore[i] += other.MovesThreeOrMore[i];
            ExtremeShare[i] += weight * other.ExtremeShare[i];
        }
    }
}
