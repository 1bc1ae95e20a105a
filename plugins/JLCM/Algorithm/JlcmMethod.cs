namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>What replaces each layer: the full method or one of its baselines at the same index width.</summary>
public enum JlcmMethod
{
    /// <summary>Grouping, k-means init, then joint learning of codebooks, scales and mappings.</summary>
    Jlcm,
    /// <summary>Grouping and k-means init only (no learning).</summary>
    Kmeans,
    /// <summary>Round-to-nearest uniform codes at the same bits per weight, per output row, asymmetric, MSE-clipped.</summary>
    Rtn,
}
