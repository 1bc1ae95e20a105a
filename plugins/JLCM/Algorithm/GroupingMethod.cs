namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>How rows are clustered into groups ([RECON] README "Grouping and re-ordering").</summary>
public enum GroupingMethod
{
    /// <summary>Sort rows by a statistic and cut into equal-size contiguous groups.</summary>
    Sort,
    /// <summary>K-means on per-row quantile vectors of the centred row, balanced to equal-size groups.</summary>
    Kmeans,
}
