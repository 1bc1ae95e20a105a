namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>How the integer grid is placed.</summary>
public enum QuantScheme
{
    /// <summary>Signed codes in [−2^(b−1), 2^(b−1) − 1], zero at code 0, scale = max(max(w) / (2^(b−1) − 1), min(w) / −2^(b−1))
    /// (the full signed range, nothing clipped).</summary>
    Symmetric,
    /// <summary>Unsigned codes with a zero point; the range [min(w, 0), max(w, 0)] maps onto 0..2^b − 1.</summary>
    Asymmetric,
}
