namespace Compressor.Sdk.Reports;

/// <summary>A curve for plots (training loss, oscillation counts, unfrozen weights per step, …).</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, string XLabel = "step", string YLabel = "");
