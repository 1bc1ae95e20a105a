namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>How a layer's grouped codebook and indices are initialised before joint learning (README "Initialisation").</summary>
public enum CodebookInit
{
    /// <summary>1-D k-means seeded by k-means++ (D² sampling); every index the nearest codeword.</summary>
    PlusPlus,
    /// <summary>1-D k-means seeded at the quantiles (i + ½)/K; every index the nearest codeword.</summary>
    Quantile,
    /// <summary>GPTVQ (van Baalen et al., 2024): Hessian-weighted k-means (k-means++ seeding), then every index assigned
    /// column by column with GPTQ's error feedback over the codebook values.</summary>
    Gptq,
}
