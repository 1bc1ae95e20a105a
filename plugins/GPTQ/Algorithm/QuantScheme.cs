namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>How the integer grid of a group is placed (README "The grid").</summary>
public enum QuantScheme
{
    /// <summary>Signed codes in [−2^(b−1), 2^(b−1) − 1] without zero point: scale = 2·max|w| / (2^b − 1) (the reference's
    /// symmetric grid, zero at code 0).</summary>
    Symmetric,
    /// <summary>Unsigned codes 0..2^b − 1 with a zero point: [min(w, 0), max(w, 0)] maps onto the codes.</summary>
    Asymmetric,
}
