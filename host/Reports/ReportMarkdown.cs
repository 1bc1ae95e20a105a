using System.Text;
using Compressor.Host.Results;

namespace Compressor.Host.Reports;

/// <summary>report.md: the report's tables in Markdown, with the plots as reference-style images whose PNG
/// <c>data:</c> URIs are collected at the end of the file, so the text stays readable and the file self-contained.</summary>
public static class ReportMarkdown
{
    /// <summary>The Markdown of <paramref name="report"/> with <paramref name="plots"/>.</summary>
    public static string Render(RunReport report, IReadOnlyList<ReportTable> tables, IReadOnlyList<ReportPlot> plots)
    {
        var sb = new StringBuilder();
        sb.Append("# compress report\n\n");
        sb.Append($"Input `{Path.GetFileName(report.Input.Path)}`, steps: {string.Join(" → ", report.Steps.Select(s => s.Plugin))}.\n\n");
        if (report.Headline is { } h) sb.Append($"**Result: {h.Text}.**\n\n");
        foreach (var t in tables)
        {
            sb.Append($"## {t.Title}\n\n");
            if (t.Note is not null) sb.Append(t.Note).Append("\n\n");
            if (t.Headers.All(h => h.Length == 0))
            {
                sb.Append("| | |\n|---|---|\n");
            }
            else
            {
                sb.Append("| ").Append(string.Join(" | ", t.Headers.Select(Cell))).Append(" |\n");
                sb.Append('|').Append(string.Concat(t.Headers.Select(_ => "---|"))).Append('\n');
            }
            foreach (var r in t.Rows) sb.Append("| ").Append(string.Join(" | ", r.Select(Cell))).Append(" |\n");
            sb.Append('\n');
            foreach (var p in PlotsOf(t.Title, plots)) sb.Append($"![{p.Caption}][{p.Id}]\n\n*{p.Caption}*\n\n");
        }
        var rest = plots.Where(p => p.Id.StartsWith("series-", StringComparison.Ordinal)).ToList();
        var constant = ReportTables.ConstantSeries(report).ToList();
        if (rest.Count > 0 || constant.Count > 0)
        {
            sb.Append("## Series\n\n");
            foreach (var p in rest) sb.Append($"![{p.Caption}][{p.Id}]\n\n*{p.Caption}*\n\n");
            foreach (var c in constant) sb.Append($"- {c}\n");
            if (constant.Count > 0) sb.Append('\n');
        }
        if (plots.Count > 0) sb.Append("<!-- plot images (PNG, base64) -->\n");
        foreach (var p in plots) sb.Append($"[{p.Id}]: {p.DataUri}\n");
        return sb.ToString();
    }

    /// <summary>The plots that belong under the table titled <paramref name="title"/>.</summary>
    internal static IEnumerable<ReportPlot> PlotsOf(string title, IReadOnlyList<ReportPlot> plots) => title switch
    {
        "Metrics" => plots.Where(p => p.Id.StartsWith("metric-", StringComparison.Ordinal)),
        "Layers" => plots.Where(p => p.Id.StartsWith("layer-", StringComparison.Ordinal)),
        ReportTables.SizeTitle => plots.Where(p => p.Id.StartsWith("size-", StringComparison.Ordinal)),
        _ => [],
    };

    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
