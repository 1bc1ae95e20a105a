using Compressor.Sdk.Reports;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>metrics[]</c> (and <c>compress eval --format json</c>'s): a named value with the
/// reference model's value measured in the same run.</summary>
/// <param name="Name">e.g. <c>accuracy</c>.</param>
/// <param name="Value">The value (6 decimals; null when not finite).</param>
/// <param name="Reference">The reference model's value, or null.</param>
/// <param name="Unit">Its unit.</param>
/// <param name="Dataset">The evaluation split for ORT metrics; null for metrics a plugin logged.</param>
public sealed record MetricResult(string Name, double? Value, double? Reference, string Unit, string? Dataset)
{
    /// <summary>The report form of <paramref name="m"/>.</summary>
    public static MetricResult Of(Metric m) => new(m.Name, ReportNumber.Of(m.Value), ReportNumber.Of(m.Reference), m.Unit, m.Dataset);
}
