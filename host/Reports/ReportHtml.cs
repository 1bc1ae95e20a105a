using System.Net;
using System.Text;
using Compressor.Host.Results;

namespace Compressor.Host.Reports;

/// <summary>report.html: one self-contained page (inline CSS, plots as base64 PNG <c>data:</c> URIs, no script, no
/// external reference) with the report's tables and plots.</summary>
public static class ReportHtml
{
    private const string Style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
        h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
        table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.92em}
        th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
        .note{color:#555;font-size:.9em;max-width:900px}.plots{display:flex;flex-wrap:wrap;gap:1em}
        figure{margin:.5em 0}figcaption{color:#555;font-size:.85em;max-width:720px}img{max-width:100%;border:1px solid #eee}
        .headline{font-size:1.15em;background:#f2f7fc;border-left:4px solid #1f77b4;padding:.5em .8em;max-width:1000px}
        pre.json{margin:0;max-width:760px;max-height:14em;overflow:auto;background:#f8f8f8;border:1px solid #e4e4e4;padding:.4em;font-size:.85em;white-space:pre}
        td{vertical-align:top}
        """;

    /// <summary>The HTML of <paramref name="report"/> with <paramref name="plots"/>.</summary>
    public static string Render(RunReport report, IReadOnlyList<ReportTable> tables, IReadOnlyList<ReportPlot> plots)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>compress report</title>\n<style>").Append(Style).Append("</style></head><body>\n");
        sb.Append("<h1>compress report</h1>\n");
        sb.Append($"<p>Input <code>{E(Path.GetFileName(report.Input.Path))}</code>, steps: {E(string.Join(" → ", report.Steps.Select(s => s.Plugin)))}.</p>\n");
        if (report.Headline is { } h) sb.Append($"<p class=\"headline\" id=\"headline\"><b>Result:</b> {E(h.Text)}.</p>\n");
        foreach (var t in tables)
        {
            sb.Append($"<h2>{E(t.Title)}</h2>\n");
            if (t.Note is not null) sb.Append($"<p class=\"note\">{E(t.Note)}</p>\n");
            sb.Append("<table>");
            if (t.Headers.Any(h => h.Length > 0)) sb.Append("<tr>").Append(string.Concat(t.Headers.Select(h => $"<th>{E(h)}</th>"))).Append("</tr>");
            foreach (var r in t.Rows)
                sb.Append("<tr>").Append(string.Concat(r.Select(Cell))).Append("</tr>\n");
            sb.Append("</table>\n");
            Figures(sb, ReportMarkdown.PlotsOf(t.Title, plots).ToList());
        }
        var series = plots.Where(p => p.Id.StartsWith("series-", StringComparison.Ordinal)).ToList();
        var constant = ReportTables.ConstantSeries(report).ToList();
        if (series.Count > 0 || constant.Count > 0)
        {
            sb.Append("<h2>Series</h2>\n");
            Figures(sb, series);
            if (constant.Count > 0) sb.Append("<ul class=\"note\">").Append(string.Concat(constant.Select(c => $"<li>{E(c)}</li>"))).Append("</ul>\n");
        }
        if (!FontSupport.HasFonts) sb.Append("<p class=\"note\">No font was found on this machine, so the plots have no text; the captions name what they show.</p>\n");
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void Figures(StringBuilder sb, IReadOnlyList<ReportPlot> plots)
    {
        if (plots.Count == 0) return;
        sb.Append("<div class=\"plots\">\n");
        foreach (var p in plots)
            sb.Append($"<figure id=\"{E(p.Id)}\"><img alt=\"{E(p.Caption)}\" src=\"{p.DataUri}\"><figcaption>{E(p.Caption)}</figcaption></figure>\n");
        sb.Append("</div>\n");
    }

    /// <summary>A table cell: numbers right-aligned; a JSON object (a step's options) pretty-printed in a scrollable block.</summary>
    private static string Cell(string c)
    {
        if (IsNumber(c)) return $"<td class=\"n\">{E(c)}</td>";
        int brace = c.IndexOf(" {", StringComparison.Ordinal);
        if (brace >= 0 && c.EndsWith('}'))
        {
            try
            {
                var json = Newtonsoft.Json.Linq.JObject.Parse(c[(brace + 1)..]);
                return $"<td>{E(c[..brace])}<pre class=\"json\">{E(json.ToString(Newtonsoft.Json.Formatting.Indented))}</pre></td>";
            }
            catch (Newtonsoft.Json.JsonException) { }
        }
        return $"<td>{E(c)}</td>";
    }

    private static bool IsNumber(string s) => double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
