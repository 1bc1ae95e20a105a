namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The config of a <see cref="CodedLinear"/> (the <c>statsq_linear</c> kind's, and each linear part of a
/// <c>statsq_attention</c>).</summary>
/// <param name="InFeatures">Input features.</param>
/// <param name="OutFeatures">Output features.</param>
/// <param name="Bits">Bits of the codes, 2..8.</param>
/// <param name="ZeroLess">The StatsQ zero-less grid (true) or the symmetric LSQ grid (false).</param>
/// <param name="Bias">Whether the map adds a bias.</param>
/// <param name="Input">The frozen input quantizer, or null.</param>
public sealed record CodedLinearConfig(long InFeatures, long OutFeatures, int Bits, bool ZeroLess, bool Bias, ActivationQuantizerConfig? Input)
{
    /// <summary>Checks the ranges (one-line <see cref="Compressor.Sdk.CompressException"/> naming <paramref name="what"/>).</summary>
    public void Validate(string what)
    {
        StatsQConfigChecks.Range(what, "inFeatures", InFeatures, 1, 1 << 24);
        StatsQConfigChecks.Range(what, "outFeatures", OutFeatures, 1, 1 << 24);
        StatsQConfigChecks.Range(what, "bits", Bits, 2, 8);
        Input?.Validate(what);
    }
}
