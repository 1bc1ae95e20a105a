namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>How a static activation range is chosen from the calibration values (README, "Calibration").</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum (with 0 inside the range).</summary>
    MinMax,
    /// <summary>The <c>--percentile</c> and 100 − <c>--percentile</c> percentiles of the values.</summary>
    Percentile,
    /// <summary>The clipped range (both ends shrunk by a common factor) that minimises the mean squared quantization error.</summary>
    Mse,
}
