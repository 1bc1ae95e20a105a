namespace Compressor.Plugins.StatsQ.Algorithm.Quantizers;

/// <summary>The weight quantizer of the quantized transformer-block linears.</summary>
public enum WeightQuantizerKind
{
    /// <summary>StatsQ: statistics-based per-row scale, zero-less grid, identity STE (the method).</summary>
    StatsQ,
    /// <summary>LSQ with a learnable per-row scale (the baseline).</summary>
    Lsq,
}
