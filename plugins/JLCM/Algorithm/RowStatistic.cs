namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The row statistic of <see cref="GroupingMethod.Sort"/>.</summary>
public enum RowStatistic
{
    /// <summary>Standard deviation of the row.</summary>
    Std,
    /// <summary>Largest absolute weight of the row.</summary>
    MaxAbs,
}
