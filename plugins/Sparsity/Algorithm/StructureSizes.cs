using Compressor.Sdk;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The size of one structured linear N → M: rank r and/or block count B, and the formulas of
/// README "Parameterisations" for its weight count.</summary>
/// <param name="Structure">The form.</param>
/// <param name="Rank">r (lowrank, blockdense), else 0.</param>
/// <param name="Blocks">B (blockshuffle, blockdense), else 0.</param>
public sealed record StructureSizes(Structure Structure, long Rank, long Blocks)
{
    /// <summary>Weights of the structured form of an N → M linear: r(N+M), min(N,M)(N+M)/B, r(N/B + M).</summary>
    public long ParameterCount(long n, long m) => Structure switch
    {
        Structure.LowRank => Rank * (n + m),
        Structure.BlockShuffle => Math.Min(n, m) / Blocks * (n + m),
        Structure.BlockDense => Rank * (n / Blocks + m),
        _ => n * m,
    };

    /// <summary>How far the kept share may be from <c>--fraction</c> (1 percentage point): within it a rank aligned to 16
    /// (faster kernels) is preferred; beyond it the plugin keeps the nearest achievable share and names it.</summary>
    public const double FractionTolerance = 0.01;

    /// <summary>The share of an N → M linear's weights this form keeps (<see cref="ParameterCount"/> ÷ N·M).</summary>
    public double Share(long n, long m) => (double)ParameterCount(n, m) / ((double)n * m);

    /// <summary>Chooses the sizes for an N → M linear: the given rank/blocks, or those whose weight count is nearest to
    /// <paramref name="fraction"/>·N·M — <c>--fraction</c> is the share of the linear's weights kept. Ranks are whole
    /// numbers (multiples of B for blockdense); a multiple of 16 is taken instead when its share is within
    /// <see cref="FractionTolerance"/> of the fraction. Block counts are common divisors of N and M.</summary>
    /// <exception cref="CompressException">The given sizes do not fit the layer.</exception>
    public static StructureSizes Choose(Structure structure, long n, long m, double fraction, int rank, int blocks, string layer)
    {
        switch (structure)
        {
            case Structure.LowRank:
            {
                if (rank > Math.Min(n, m))
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --rank {rank} exceeds min(N, M) = {Math.Min(n, m)} of '{layer}'");
                return rank > 0 ? new(structure, rank, 0) : Nearest(Candidates(structure, n, m, 0), n, m, fraction);
            }
            case Structure.BlockShuffle:
            {
                if (blocks > 0)
                {
                    if (n % blocks != 0 || m % blocks != 0)
                        throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --blocks {blocks} must divide both sizes {n} and {m} of '{layer}'");
                    return new(structure, 0, blocks);
                }
                return Nearest(Candidates(structure, n, m, 0), n, m, fraction);
            }
            case Structure.BlockDense:
            {
                long b = blocks > 0 ? blocks : 4;
                if (n % b != 0)
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --blocks {b} must divide the input size {n} of '{layer}'");
                if (rank > 0 && rank % b != 0)
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --rank {rank} must be a multiple of --blocks {b}");
                return rank > 0 ? new(structure, rank, b) : Nearest(Candidates(structure, n, m, b), n, m, fraction);
            }
            default:
                throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: no sizes for structure {structure}");
        }
    }

    /// <summary>Every size of <paramref name="structure"/> an N → M linear can take (blockdense with <paramref name="blocks"/>
    /// blocks): ranks 1..min(N, M) (multiples of B for blockdense), or the common divisors of N and M as block counts.</summary>
    public static IEnumerable<StructureSizes> Candidates(Structure structure, long n, long m, long blocks) => structure switch
    {
        Structure.LowRank => Range(1, Math.Min(n, m)).Select(r => new StructureSizes(structure, r, 0)),
        Structure.BlockShuffle => Range(1, Math.Min(n, m)).Where(b => n % b == 0 && m % b == 0).Select(b => new StructureSizes(structure, 0, b)),
        Structure.BlockDense => Range(1, Math.Min(n, m) / blocks).Select(k => new StructureSizes(structure, k * blocks, blocks)),
        _ => [],
    };

    /// <summary>The achievable shares nearest to <paramref name="fraction"/> on each side (the largest below it and the
    /// smallest above it), for the message that names them when the fraction cannot be kept.</summary>
    public static IReadOnlyList<StructureSizes> Neighbours(Structure structure, long n, long m, long blocks, double fraction)
    {
        var all = Candidates(structure, n, m, blocks).ToList();
        var below = all.Where(c => c.Share(n, m) <= fraction).MaxBy(c => c.Share(n, m));
        var above = all.Where(c => c.Share(n, m) > fraction).MinBy(c => c.Share(n, m));
        return new[] { below, above }.Where(c => c is not null).Select(c => c!).ToList();
    }

    /// <summary>"r = 21" / "B = 4" / "r = 96, B = 4".</summary>
    public override string ToString() => Structure switch
    {
        Structure.LowRank => $"r = {Rank}",
        Structure.BlockShuffle => $"B = {Blocks}",
        _ => $"r = {Rank}, B = {Blocks}",
    };

    private static StructureSizes Nearest(IEnumerable<StructureSizes> candidates, long n, long m, double fraction)
    {
        var list = candidates.ToList();
        var nearest = list.MinBy(c => Math.Abs(c.Share(n, m) - fraction))!;
        var aligned = list.Where(c => c.Structure != Structure.BlockShuffle && c.Rank % 16 == 0).MinBy(c => Math.Abs(c.Share(n, m) - fraction));
        return aligned is not null && Math.Abs(aligned.Share(n, m) - fraction) <= FractionTolerance ? aligned : nearest;
    }

    private static IEnumerable<long> Range(long from, long to)
    {
        for (long i = from; i <= to; i++) yield return i;
    }
}
