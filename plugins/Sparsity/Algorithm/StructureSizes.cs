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

    /// <summary>Chooses the sizes for an N → M linear: the given rank/blocks, or those whose weight count is nearest to
    /// <paramref name="fraction"/>·N·M (ranks rounded to a multiple of 16 — of B for blockdense — when that large;
    /// block counts among the common divisors of N and M).</summary>
    /// <exception cref="CompressException">The given sizes do not fit the layer.</exception>
    public static StructureSizes Choose(Structure structure, long n, long m, double fraction, int rank, int blocks, string layer)
    {
        double target = fraction * n * m;
        switch (structure)
        {
            case Structure.LowRank:
            {
                long r = rank > 0 ? rank : RoundRank(target / (n + m), 1, Math.Min(n, m));
                if (r > Math.Min(n, m))
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --rank {r} exceeds min(N, M) = {Math.Min(n, m)} of '{layer}'");
                return new(structure, r, 0);
            }
            case Structure.BlockShuffle:
            {
                if (blocks > 0)
                {
                    if (n % blocks != 0 || m % blocks != 0)
                        throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --blocks {blocks} must divide both sizes {n} and {m} of '{layer}'");
                    return new(structure, 0, blocks);
                }
                var divisors = Enumerable.Range(1, (int)Math.Min(n, m)).Where(b => n % b == 0 && m % b == 0).ToList();
                long best = divisors.MinBy(b => Math.Abs(Math.Log((double)Math.Min(n, m) / b * (n + m) / target)));
                return new(structure, 0, best);
            }
            case Structure.BlockDense:
            {
                long b = blocks > 0 ? blocks : 4;
                if (n % b != 0)
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --blocks {b} must divide the input size {n} of '{layer}'");
                long r = rank > 0 ? rank : RoundRank(target / ((double)n / b + m), b, Math.Min(m, n) * 1L);
                r = Math.Max(b, r / b * b);
                if (rank > 0 && rank % b != 0)
                    throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: --rank {rank} must be a multiple of --blocks {b}");
                return new(structure, r, b);
            }
            default:
                throw new CompressException(ErrorKind.InvalidOptions, $"sparsity: no sizes for structure {structure}");
        }
    }

    /// <summary>The rank nearest to <paramref name="ideal"/>: a multiple of 16 (and of <paramref name="multiple"/>)
    /// when the ideal is at least 16·multiple, else a multiple of <paramref name="multiple"/>; within [multiple, max].</summary>
    private static long RoundRank(double ideal, long multiple, long max)
    {
        long step = ideal >= 16 * multiple ? Lcm(16, multiple) : multiple;
        long r = (long)Math.Round(ideal / step) * step;
        return Math.Clamp(r, multiple, Math.Max(multiple, max / multiple * multiple));
    }

    private static long Lcm(long a, long b)
    {
        long x = a, y = b;
        while (y != 0) (x, y) = (y, x % y);
        return a / x * b;
    }
}
