using System.Globalization;
using System.Net;
using System.Text;
using Compressor.Engine.IO;
using Compressor.Host.Reports;
using Compressor.Sdk.Diagnostics;
using ScottPlot;

namespace Compressor.Host.Search;

/// <summary>Writes search.md and search.html from search.json's record: the result, the Pareto plot (cost against the
/// keep metric for every evaluated candidate: in process and on ONNX Runtime, the threshold, the chosen point marked),
/// the per-layer table of what was chosen and why, the candidates, and the sensitivity table. Plots are rendered with
/// ScottPlot as the run report's are (<see cref="FontSupport"/>: no text without fonts).</summary>
public static class SearchReportWriter
{
    /// <summary>search.md.</summary>
    public const string MarkdownFile = "search.md";

    /// <summary>search.html.</summary>
    public const string HtmlFile = "search.html";

    /// <summary>Writes both files into <paramref name="directory"/>.</summary>
    public static void Write(SearchReport report, string directory, IPluginLogger? log = null)
    {
        ReportPlot? plot = null;
        try
        {
            if (Pareto(report) is { } png) plot = new ReportPlot("pareto", Caption(report), png);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log?.Warn($"search plot left out: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}");
        }
        AtomicFile.WriteAllText(Path.Combine(directory, MarkdownFile), Markdown(report, plot));
        AtomicFile.WriteAllText(Path.Combine(directory, HtmlFile), Html(report, plot));
    }

    private static string Caption(SearchReport r) => r.Latency is null
        ? $"Every evaluated candidate: bits per searched weight against {Metric(r)} (grey: in process on the first {r.Sensitivity.Samples} evaluation samples; blue: end to end on ONNX Runtime; red: chosen; dashed: the --keep threshold)"
        : $"Every evaluated candidate: latency relative to the FP32 model against {Metric(r)} (grey: predicted latency from the per-layer table, metric in process on the first {r.Sensitivity.Samples} evaluation samples; blue: end to end on ONNX Runtime, latency = 1 / the measured median speed-up; red: chosen; dashed: the --keep threshold)";

    private static string Speed(Candidate c) => c.SpeedUp is { } s ? $", {s.ToString("F2", CultureInfo.InvariantCulture)}× faster than FP32 (measured)" : "";

    private static string Metric(SearchReport r) => r.Keep.Split(['>', '<'])[0];

    /// <summary>The tables of the report (title, headers, rows).</summary>
    public static IReadOnlyList<ReportTable> Tables(SearchReport r)
    {
        var tables = new List<ReportTable>();
        var c = r.ChosenCandidate;
        tables.Add(new ReportTable("Search", ["", ""],
        [
            ["input", Path.GetFileName(r.Input.Path)],
            ["data", r.Data],
            ["budget", r.Budget],
            ["keep", r.Keep + (r.Threshold is { } t ? $" (threshold {F(t)} on ONNX Runtime; input model {F(r.ReferenceMetric)})" : "")],
            ["sensitivity", $"{r.Sensitivity.Mode}: {r.Sensitivity.Reason}; damage = {r.Sensitivity.Damage}"],
            ["allocation", $"{r.Allocation.Solver}; {r.Allocation.Gap}"],
            ["result", c is null ? "no candidate met the budget and kept the metric" :
                $"candidate {c.Id}: {c.BitsPerWeight:F3} bits/weight{Speed(c)}, {Metric(r)} {F(c.OrtMetric)} on ONNX Runtime, model.onnx {c.OnnxBytes:N0} bytes"],
            ["time", $"{F(r.Timings.GetValueOrDefault("total"))} s (sensitivity {F(r.Timings.GetValueOrDefault("sensitivity"))} s, in process {F(r.Timings.GetValueOrDefault("inProcess"))} s, end to end {F(r.Timings.GetValueOrDefault("endToEnd"))} s)"],
        ]));
        if (r.Warnings.Count > 0)
            tables.Add(new ReportTable("Warnings", ["warning"], r.Warnings.Select(w => new[] { w }).ToList()));
        bool latency = r.Latency is not null;
        if (r.Layers.Count > 0)
            tables.Add(new ReportTable("Per layer: what was chosen and why", Row(["layer", "shape", "treatment", "bits/weight"], latency ? ["ms"] : [], ["damage alone", "why"]),
                r.Layers.Select(l => Row([l.Layer, "[" + string.Join(", ", l.Shape) + "]", l.Treatment, l.BitsPerWeight.ToString("F3", CultureInfo.InvariantCulture)],
                    latency ? [F(l.Milliseconds)] : [], [F(l.Damage), l.Why])).ToList()));
        tables.Add(new ReportTable("Evaluated candidates", Row(["candidate", "bits/weight"], latency ? ["predicted latency"] : [], ["predicted damage", $"{Metric(r)} in process", $"{Metric(r)} on ORT", "model.onnx bytes", "speed-up", "keeps", "budget", "note"]),
            r.Candidates.Select(x => Row([x.Id + (x.Id == r.Chosen ? " (chosen)" : ""), x.BitsPerWeight.ToString("F3", CultureInfo.InvariantCulture)],
                latency ? [x.PredictedLatency is { } pl ? pl.ToString("F3", CultureInfo.InvariantCulture) + "×" : "-"] : [],
                [F(x.PredictedDamage), F(x.InProcessMetric), F(x.OrtMetric),
                 x.OnnxBytes?.ToString("N0", CultureInfo.InvariantCulture) ?? "-", x.SpeedUp is { } s ? s.ToString("F2", CultureInfo.InvariantCulture) + "×" + (x.SpeedUpP25 is { } lo && x.SpeedUpP75 is { } hi ? $" (IQR {lo.ToString("F2", CultureInfo.InvariantCulture)}–{hi.ToString("F2", CultureInfo.InvariantCulture)})" : "") : "-",
                 Yes(x.MeetsKeep), Yes(x.MeetsBudget), x.Error ?? (x.Cached == true ? "cached" : "")])).ToList(),
            "Candidates are points of the predicted frontier (the least predicted damage for their cost); the in-process metric is measured on the first evaluation samples, the ONNX Runtime one by the ordinary run pipeline on the evaluation split."));
        if (r.Latency is { } lt)
        {
            var lids = lt.Layers.SelectMany(l => l.Milliseconds.Keys).Distinct().ToList();
            tables.Add(new ReportTable("Latency on ONNX Runtime: one layer alone (ms)", ["layer", "shape", "rows", .. lids],
                lt.Layers.Select(l => new[] { l.Layer, "[" + string.Join(", ", l.Shape) + "]", l.Rows.ToString(CultureInfo.InvariantCulture) }
                    .Concat(lids.Select(id => l.Milliseconds.TryGetValue(id, out double ms) ? F(ms) : "n/a")).ToArray()).ToList(),
                $"{lt.Method}. The input model: {F(lt.ModelMs)} ms on {lt.Batch} samples; its searched layers in FP32: {F(lt.Fp32LayersMs)} ms; the remainder every allocation carries: {F(lt.RemainderMs)} ms. " +
                $"Machine: {lt.Machine}; {lt.Cached} entries from the cache. n/a: the treatment does not apply (or has no speed export)."));
        }
        var trials = r.Sensitivity.Trials.GroupBy(t => t.Layer).ToList();
        var ids = r.Sensitivity.Trials.Select(t => t.Treatment).Distinct().ToList();
        tables.Add(new ReportTable($"Sensitivity ({r.Sensitivity.Mode}): damage of treating one layer alone", ["layer", .. ids],
            trials.Select(g => new[] { g.Key }.Concat(ids.Select(id => g.FirstOrDefault(t => t.Treatment == id) is { } t ? F(t.Damage) : "n/a")).ToArray()).ToList(),
            $"damage = {r.Sensitivity.Damage}; n/a: the treatment does not apply to the layer."));
        return tables;
    }

    private static string[] Row(params string[][] parts) => parts.SelectMany(p => p).ToArray();

    private static string Yes(bool? b) => b switch { true => "yes", false => "no", _ => "-" };

    private static string F(double? v) => v is { } x ? x.ToString("G5", CultureInfo.InvariantCulture) : "-";

    private static string Markdown(SearchReport r, ReportPlot? plot)
    {
        var sb = new StringBuilder("# compress search\n\n");
        foreach (var t in Tables(r))
        {
            sb.Append("## ").Append(t.Title).Append("\n\n");
            if (t.Note is not null) sb.Append(t.Note).Append("\n\n");
            sb.Append("| ").Append(string.Join(" | ", t.Headers.Select(Md))).Append(" |\n|");
            sb.Append(string.Concat(t.Headers.Select(_ => "---|"))).Append('\n');
            foreach (var row in t.Rows) sb.Append("| ").Append(string.Join(" | ", row.Select(Md))).Append(" |\n");
            sb.Append('\n');
            if (t.Title == "Search" && plot is not null)
                sb.Append("![").Append(Md(plot.Caption)).Append("](").Append(plot.DataUri).Append(")\n\n").Append(Md(plot.Caption)).Append("\n\n");
        }
        return sb.ToString();
    }

    private static string Md(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Html(SearchReport r, ReportPlot? plot)
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        var sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>compress search</title>\n<style>");
        sb.Append("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}")
          .Append("td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.9em;vertical-align:top}th{background:#f4f4f4}.note{color:#555;font-size:.9em}")
          .Append("figcaption{color:#555;font-size:.85em;max-width:760px}img{max-width:100%;border:1px solid #eee}</style></head><body>\n<h1>compress search</h1>\n");
        foreach (var t in Tables(r))
        {
            sb.Append("<h2>").Append(E(t.Title)).Append("</h2>\n");
            if (t.Note is not null) sb.Append("<p class=\"note\">").Append(E(t.Note)).Append("</p>\n");
            sb.Append("<table><tr>").Append(string.Concat(t.Headers.Select(h => $"<th>{E(h)}</th>"))).Append("</tr>\n");
            foreach (var row in t.Rows) sb.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{E(c)}</td>"))).Append("</tr>\n");
            sb.Append("</table>\n");
            if (t.Title == "Search" && plot is not null)
                sb.Append($"<figure id=\"pareto\"><img alt=\"{E(plot.Caption)}\" src=\"{plot.DataUri}\"><figcaption>{E(plot.Caption)}</figcaption></figure>\n");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    /// <summary>The Pareto plot's PNG, or null without any evaluated point.</summary>
    public static byte[]? Pareto(SearchReport r)
    {
        bool latency = r.Latency is not null;
        // x: bits per weight, or latency relative to FP32 (predicted in process, 1 / measured speed-up on ONNX Runtime).
        double? XIn(Candidate c) => latency ? c.PredictedLatency : c.BitsPerWeight;
        double? XOrt(Candidate c) => latency ? (c.SpeedUp is { } s && s > 0 ? 1 / s : null) : c.BitsPerWeight;
        var inProcess = r.Candidates.Where(c => c.InProcessMetric is not null && XIn(c) is not null).ToList();
        var ort = r.Candidates.Where(c => c.OrtMetric is not null && XOrt(c) is not null).ToList();
        if (inProcess.Count == 0 && ort.Count == 0) return null;
        var plot = new Plot();
        bool text = FontSupport.AvailableFamily is { } family;
        if (text) plot.Font.Set(FontSupport.AvailableFamily!);
        if (inProcess.Count > 0)
        {
            var s = plot.Add.ScatterPoints(inProcess.Select(c => XIn(c)!.Value).ToArray(), inProcess.Select(c => c.InProcessMetric!.Value).ToArray(), Color.FromHex("#999999"));
            s.MarkerSize = 7;
            if (text) s.LegendText = "in process";
        }
        if (ort.Count > 0)
        {
            var s = plot.Add.ScatterPoints(ort.Select(c => XOrt(c)!.Value).ToArray(), ort.Select(c => c.OrtMetric!.Value).ToArray(), Color.FromHex("#1f77b4"));
            s.MarkerSize = 9;
            if (text) s.LegendText = "ONNX Runtime";
        }
        if (r.ChosenCandidate is { OrtMetric: { } m } chosen && XOrt(chosen) is { } cx)
        {
            var s = plot.Add.ScatterPoints(new[] { cx }, new[] { m }, Color.FromHex("#d62728"));
            s.MarkerSize = 14;
            s.MarkerShape = MarkerShape.OpenCircle;
            if (text) s.LegendText = "chosen";
        }
        if (r.Threshold is { } threshold)
        {
            var line = plot.Add.HorizontalLine(threshold, 1, Color.FromHex("#d62728"));
            line.LinePattern = LinePattern.Dashed;
        }
        if (text)
        {
            plot.Title($"{r.Keep} under {r.Budget}");
            plot.XLabel(latency ? "latency relative to the FP32 model on ONNX Runtime" : "bits per searched weight");
            plot.YLabel(Metric(r));
            plot.ShowLegend(Edge.Right);
        }
        else
        {
            foreach (var axis in plot.Axes.GetAxes()) { axis.TickLabelStyle.IsVisible = false; axis.Label.IsVisible = false; }
            plot.Axes.Title.IsVisible = false;
        }
        return plot.GetImageBytes(820, 420, ImageFormat.Png);
    }
}
