namespace Compressor.Sdk.Reports;

/// <summary>One compressed layer in a report.</summary>
/// <param name="Name">Fully qualified layer name.</param>
/// <param name="Kind">Compressed layer kind, e.g. <c>quantized_linear</c>.</param>
/// <param name="Shape">Dense weight shape.</param>
/// <param name="Bits">Effective bits per weight (storage bits / weight count).</param>
/// <param name="SqnrDb">Weight SQNR in dB, 20·log10(‖W‖/‖W − Ŵ‖) (∞ for an exact copy).</param>
/// <param name="Bytes">Theoretical bytes of the compressed weight.</param>
public sealed record LayerRow(string Name, string Kind, long[] Shape, double Bits, double SqnrDb, long Bytes);
