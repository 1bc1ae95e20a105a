namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>What <see cref="GptqSolver"/> needs of the options, for one layer.</summary>
/// <param name="Bits">Bits per code.</param>
/// <param name="GroupSize">Columns per group (0: one group per row).</param>
/// <param name="Symmetric">Symmetric grid (signed codes) or asymmetric (zero points).</param>
/// <param name="ActOrder">Columns in order of decreasing diag H, with static groups.</param>
/// <param name="Damp">Dampening λ relative to mean(diag H).</param>
/// <param name="MaxDamp">The largest λ tried when the Cholesky factorisation fails.</param>
/// <param name="BlockSize">Columns per lazy batch update.</param>
public sealed record GptqSettings(int Bits, int GroupSize, bool Symmetric, bool ActOrder, double Damp, double MaxDamp, int BlockSize)
{
    /// <summary>The settings of <paramref name="options"/>.</summary>
    public static GptqSettings Of(GptqOptions options) => new(options.WeightBits, options.GroupSize, options.Scheme == QuantScheme.Symmetric,
        options.ActOrder, options.Damp, options.MaxDamp, options.BlockSize);
}
