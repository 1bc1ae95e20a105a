using Compressor.Sdk.Data;

namespace Compressor.Engine.Data;

/// <summary>A data source split into train, calibration and evaluation sets (fixed by the seed).</summary>
public sealed class DataSplits : IDisposable
{
    /// <summary>Creates the splits; they are disposed with this object.</summary>
    public DataSplits(DataInfo info, IDataSet train, IDataSet calibration, IDataSet evaluation)
    {
        Info = info; Train = train; Calibration = calibration; Evaluation = evaluation;
    }

    /// <summary>Shapes, classes, vocabulary.</summary>
    public DataInfo Info { get; }

    /// <summary>Training samples.</summary>
    public IDataSet Train { get; }

    /// <summary>A small subset of the training samples for calibration.</summary>
    public IDataSet Calibration { get; }

    /// <summary>Held-out samples.</summary>
    public IDataSet Evaluation { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in new[] { Train, Calibration, Evaluation }.Distinct())
            (s as IDisposable)?.Dispose();
    }
}
