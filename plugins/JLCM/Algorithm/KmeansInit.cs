namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Initialisation of the 1-D k-means.</summary>
public enum KmeansInit
{
    /// <summary>Seeded k-means++ (D² sampling).</summary>
    PlusPlus,
    /// <summary>Quantiles (i + ½)/K of the values.</summary>
    Quantile,
}
