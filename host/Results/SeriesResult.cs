using Compressor.Sdk.Reports;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>series[]</c>: a curve a plugin logged (training loss, oscillation counts, …).</summary>
public sealed record SeriesResult(string Name, string XLabel, string YLabel, IReadOnlyList<double?> X, IReadOnlyList<double?> Y)
{
    /// <summary>The report form of <paramref name="s"/> (points to 6 decimals, non-finite ones null).</summary>
    public static SeriesResult Of(Series s) =>
        new(s.Name, s.XLabel, s.YLabel, [.. s.X.Select(x => ReportNumber.Of(x))], [.. s.Y.Select(y => ReportNumber.Of(y))]);
}
