namespace Compressor.Host.Reports;

/// <summary>One rendered plot of a report: an anchor id, a caption, and the PNG bytes.</summary>
public sealed record ReportPlot(string Id, string Caption, byte[] Png)
{
    /// <summary>The PNG as a <c>data:</c> URI, for self-contained HTML and Markdown.</summary>
    public string DataUri => "data:image/png;base64," + Convert.ToBase64String(Png);
}
