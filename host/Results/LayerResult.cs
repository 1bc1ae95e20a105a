using Compressor.Sdk.Reports;
using Newtonsoft.Json;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>layers[]</c>: one compressed layer as a plugin reported it.</summary>
/// <param name="Name">The layer.</param>
/// <param name="Kind">Its compressed layer kind id.</param>
/// <param name="Shape">The dense weight's shape.</param>
/// <param name="Bits">Storage bits per weight.</param>
/// <param name="SqnrDb">Weight SQNR against the original in dB; null for an exact layer (∞).</param>
/// <param name="Bytes">Theoretical bytes of the compressed weight.</param>
/// <param name="ValueBits">For a layer that stores plain floats (low-rank or block factors): the bits of each stored
/// value (32 for float32); left out for packed codes and codebooks.</param>
/// <param name="StoredShare">With <paramref name="ValueBits"/>: the stored values' share of the dense weight count
/// (<see cref="Bits"/> = ValueBits × StoredShare).</param>
public sealed record LayerResult(string Name, string Kind, IReadOnlyList<long> Shape, double? Bits, double? SqnrDb, long Bytes,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] int? ValueBits = null,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] double? StoredShare = null)
{
    /// <summary>The report form of <paramref name="row"/>, with its float storage when it has one.</summary>
    public static LayerResult Of(LayerRow row, (int ValueBits, double StoredShare)? storage = null) =>
        new(row.Name, row.Kind, [.. row.Shape], ReportNumber.Of(row.Bits), ReportNumber.Of(row.SqnrDb), row.Bytes, storage?.ValueBits, storage?.StoredShare);

    /// <summary>Bits per weight as people read them: "4.000", or "12.000 (fp32 × 37.5 %)" for float factors.</summary>
    public string BitsText() => Describe(Bits, ValueBits, StoredShare);

    /// <summary>As <see cref="BitsText"/> for any bits/value-bits/share triple.</summary>
    public static string Describe(double? bits, int? valueBits, double? storedShare)
    {
        string b = bits?.ToString("F3", System.Globalization.CultureInfo.InvariantCulture) ?? "-";
        return valueBits is { } vb && storedShare is { } share
            ? $"{b} (fp{vb} × {(100 * share).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} %)"
            : b;
    }
}
