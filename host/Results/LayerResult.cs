using Compressor.Sdk.Reports;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>layers[]</c>: one compressed layer as a plugin reported it.</summary>
/// <param name="Name">The layer.</param>
/// <param name="Kind">Its compressed layer kind id.</param>
/// <param name="Shape">The dense weight's shape.</param>
/// <param name="Bits">Storage bits per weight.</param>
/// <param name="SqnrDb">Weight SQNR against the original in dB; null for an exact layer (∞).</param>
/// <param name="Bytes">Theoretical bytes of the compressed weight.</param>
public sealed record LayerResult(string Name, string Kind, IReadOnlyList<long> Shape, double? Bits, double? SqnrDb, long Bytes)
{
    /// <summary>The report form of <paramref name="row"/>.</summary>
    public static LayerResult Of(LayerRow row) =>
        new(row.Name, row.Kind, [.. row.Shape], ReportNumber.Of(row.Bits), ReportNumber.Of(row.SqnrDb), row.Bytes);
}
