namespace Compressor.Sdk.Reports;

/// <summary>A named measurement, with the reference model's value when there is one.</summary>
public sealed record Metric(string Name, double Value, string Unit = "", string? Dataset = null, double? Reference = null);
