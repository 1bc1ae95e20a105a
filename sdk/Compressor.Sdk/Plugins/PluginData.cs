using Compressor.Sdk.Data;

namespace Compressor.Sdk.Plugins;

/// <summary>The data sets a run was given, split by use. A plugin sees those its manifest declared it needs.</summary>
/// <param name="Train">Training data (labelled where the data has labels).</param>
/// <param name="Calibration">A small calibration subset.</param>
/// <param name="Evaluation">Held-out data for evaluation.</param>
public sealed record PluginData(IDataSet? Train, IDataSet? Calibration, IDataSet? Evaluation)
{
    /// <summary>No data.</summary>
    public static PluginData None { get; } = new(null, null, null);
}
