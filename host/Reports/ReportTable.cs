namespace Compressor.Host.Reports;

/// <summary>A titled table of a report for people, rendered as Markdown or HTML.</summary>
public sealed record ReportTable(string Title, IReadOnlyList<string> Headers, IReadOnlyList<string[]> Rows, string? Note = null);
