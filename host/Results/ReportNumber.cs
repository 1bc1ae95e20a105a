namespace Compressor.Host.Results;

/// <summary>How a measured number appears in a report: rounded to a fixed number of decimals, and null when it is
/// not finite (the ∞ dB SQNR of an exact layer, a measurement that did not run).</summary>
public static class ReportNumber
{
    /// <summary>Decimals of metrics, per-layer rows, series and evaluation values.</summary>
    public const int Decimals = 6;

    /// <summary>Decimals of the verification gate's errors and SQNRs.</summary>
    public const int VerificationDecimals = 9;

    /// <summary>Decimals of bits per weight.</summary>
    public const int BitsDecimals = 4;

    /// <summary><paramref name="value"/> rounded to <paramref name="decimals"/>, or null when not finite.</summary>
    public static double? Of(double value, int decimals = Decimals) => double.IsFinite(value) ? Math.Round(value, decimals) : null;

    /// <summary>As <see cref="Of(double, int)"/>; null stays null.</summary>
    public static double? Of(double? value, int decimals = Decimals) => value is { } v ? Of(v, decimals) : null;

    /// <summary>Seconds of wall time as reports show them (3 decimals).</summary>
    public static double Seconds(TimeSpan elapsed, int decimals = 3) => Math.Round(elapsed.TotalSeconds, decimals);
}
