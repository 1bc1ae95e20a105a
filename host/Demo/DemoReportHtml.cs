using System.Net;
using System.Text;
using System.Globalization;
using Compressor.Engine.Evaluation;
using Compressor.Host.Reports;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
using ScottPlot;

namespace Compressor.Host.Demo;

/// <summary>The demo's report.html: one self-contained page (inline CSS, PNG plots as base64 <c>data:</c> URIs, no
/// script) comparing the steps — the table of <see cref="DemoTable"/>, bar charts of the primary metric, bits per
/// weight, ONNX bytes and ORT latency (FP32 first), and each series the plugins logged (e.g. oscillation counts),
/// one line per step — with links to each step's own report.html.</summary>
public static class DemoReportHtml
{
    private const int Width = 720, Height = 340;
    private static readonly Color Fp32Color = Color.FromHex("#aaaaaa");
    private static readonly Color[] Palette = new[] { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf" }
        .Select(Color.FromHex).ToArray();

    private const string Style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
        h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
        table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.92em}
        th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
        .note{color:#555;font-size:.9em;max-width:900px}.plots{display:flex;flex-wrap:wrap;gap:1em}
        figure{margin:.5em 0}figcaption{color:#555;font-size:.85em;max-width:720px}img{max-width:100%;border:1px solid #eee}
        pre.json{margin:0;max-width:760px;max-height:14em;overflow:auto;background:#f8f8f8;border:1px solid #e4e4e4;padding:.4em;font-size:.85em;white-space:pre}
        td{vertical-align:top}ul.headlines li{margin:.2em 0}
        """;

    /// <summary>The HTML of the demo report <paramref name="report"/>.</summary>
    public static string Render(DemoReport report, IPluginLogger? log = null)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>compress demo</title>\n<style>").Append(Style).Append("</style></head><body>\n");
        sb.Append($"<h1>compress demo: {E(report.Model)}</h1>\n");
        sb.Append($"<p>{E(report.Description)}. Data <code>{E(report.Data)}</code>, seed {E(report.Seed.ToString(CultureInfo.InvariantCulture))}" +
                  $"{(report.Quick ? ", <b>quick</b> run (fewer epochs and steps: not representative)" : "")}; " +
                  $"{E(report.Seconds.ToString(CultureInfo.InvariantCulture))} s in all.</p>\n");
        var b = report.Base;
        sb.Append($"<p class=\"note\">Base model: {E(b.Kind)} {E(b.Architecture?.Name ?? b.Name ?? "")}" +
                  $"{(b.Parameters is { } n ? $", {n.ToString(CultureInfo.InvariantCulture)} parameters" : "")}{(b.Epochs is { } ep ? $", {ep.ToString(CultureInfo.InvariantCulture)} epochs" : "")}" +
                  $"{(b.Source is { } src ? $", {E(src)}" : "")}{(b.TrainedBy is { } tb ? $". {E(tb)}" : "")}.</p>\n");
        sb.Append("<h2>Comparison</h2>\n<p class=\"note\">Every compressed model was exported to ONNX, passed the verification gate and was evaluated " +
                  "on ONNX Runtime (CPU, ORT_ENABLE_ALL) against the FP32 model in the same run. Bits/W: storage bits per compressed weight. " +
                  "Skipped steps need a plugin that is not installed.</p>\n<table><tr>");
        sb.Append(string.Concat(DemoTable.Headers(report).Select(h => $"<th>{E(h)}</th>"))).Append("</tr>\n");
        var ran = report.Ran().ToList();
        foreach (var row in DemoTable.Rows(report))
        {
            sb.Append("<tr>");
            for (int c = 0; c < row.Length; c++)
            {
                string cell = E(row[c]);
                var step = c == 0 ? ran.FirstOrDefault(s => s.Name == row[0]) : null;
                if (step is not null) cell = $"<a href=\"{E(step.OutputDirectory.Replace('\\', '/'))}/report.html\">{cell}</a>";
                sb.Append(c >= 2 && row[c].Length > 0 && char.IsAsciiDigit(row[c].TrimStart('+', '-')[0]) ? $"<td class=\"n\">{cell}</td>" : $"<td>{cell}</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
        var headlines = report.Ran().Where(r => r.Headline is not null).ToList();
        if (headlines.Count > 0)
            sb.Append("<ul class=\"headlines\">").Append(string.Concat(headlines.Select(r => $"<li><b>{E(r.Name)}</b>: {E(r.Headline!)}</li>"))).Append("</ul>\n");
        var plots = Plots(report, log);
        if (plots.Count > 0)
        {
            sb.Append("<h2>Plots</h2>\n<div class=\"plots\">\n");
            foreach (var p in plots)
                sb.Append($"<figure id=\"{E(p.Id)}\"><img alt=\"{E(p.Caption)}\" src=\"{p.DataUri}\"><figcaption>{E(p.Caption)}</figcaption></figure>\n");
            sb.Append("</div>\n");
        }
        if (!FontSupport.HasFonts) sb.Append("<p class=\"note\">No font was found on this machine, so the plots have no text; the captions name what they show.</p>\n");
        sb.Append("<h2>Recipes</h2>\n<table><tr><th>step</th><th>title</th><th>recipe</th></tr>\n");
        foreach (var s in report.Steps)
            sb.Append($"<tr><td>{E(s.Name)}</td><td>{E(s.Title)}</td><td><pre class=\"json\">{E(s is DemoStepRun r ? ResultJson.Serialize(r.Steps) : ResultJson.Serialize(s.Plugins))}</pre></td></tr>\n");
        sb.Append("</table>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>The comparison plots (left out one by one, with a warning, if one fails to render).</summary>
    public static List<ReportPlot> Plots(DemoReport report, IPluginLogger? log = null)
    {
        var plots = new List<ReportPlot>();
        void Try(string id, string caption, Func<byte[]?> render)
        {
            try
            {
                if (render() is { } png) plots.Add(new ReportPlot(id, caption, png));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log?.Warn($"demo plot '{caption}' left out: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}");
            }
        }
        var ok = report.Ran().ToList();
        var fp32 = report.Fp32;
        string primary = report.PrimaryMetric;
        List<(string Name, double? Value)> Column(Func<DemoStepRun, double?> fromStep, double? fp32Value) =>
            [("fp32", fp32Value), .. ok.Select(s => (s.Name, fromStep(s)))];
        Try("demo-pareto", $"{primary} against storage bits per compressed weight for every model (log scale); the Pareto front — no other model " +
                           "is both smaller and better — is joined and ringed", () => Pareto(report));
        Try("demo-primary", $"{primary} of each model on the evaluation split (FP32 in grey)", () =>
            Bars(Column(s => DemoTable.Metric(s.Metrics, primary), fp32 is null ? null : DemoTable.Metric(fp32.Metrics, primary)), primary,
                primary == EvaluationMetricNames.Accuracy ? "fraction" : "", nearData: true));
        Try("demo-bits", "Storage bits per compressed weight", () => Bars(Column(s => s.BitsPerWeight, 32), "bits per weight", "", nearData: false));
        Try("demo-bytes", "ONNX model size", () => Bars(Column(s => s.OnnxBytes, fp32?.OnnxBytes), "ONNX model size", "bytes", nearData: false));
        Try("demo-latency", "ONNX Runtime median latency of one batch (ms; as measured in each step's run, so FP32 is the first step's measurement)", () =>
            Bars(Column(s => DemoTable.Metric(s.Metrics, EvaluationMetricNames.LatencyMedianMs),
                fp32 is null ? null : DemoTable.Metric(fp32.Metrics, EvaluationMetricNames.LatencyMedianMs)), "median latency", "ms", nearData: false));
        var seriesNames = ok.SelectMany(s => s.Series.Select(x => x.Name)).Distinct(StringComparer.Ordinal).ToList();
        foreach (var name in seriesNames)
        {
            var lines = ok.SelectMany(s => s.Series.Where(x => x.Name == name).Select(x => (s.Name, x))).ToList();
            if (lines.All(l => ReportPlots.Constant(l.x) is not null)) continue;   // flat lines say nothing
            var first = lines[0].x;
            Try($"demo-series-{ReportPlots.Slug(name)}", $"{name} ({first.YLabel} per {first.XLabel}), one line per step", () => Lines(name, lines));
        }
        return plots;
    }

    /// <summary>One point of the accuracy-vs-size scatter.</summary>
    public sealed record ParetoPoint(string Name, double Bits, double Value);

    /// <summary>The points of the demo's scatter (FP32 at 32 bits, each step that ran at its bits per weight, with its
    /// primary metric) and which of them are on the Pareto front: no other point has fewer or equal bits and a higher or
    /// equal value, one of them strictly (the primary metric is higher-is-better: accuracy, or cosine to FP32).</summary>
    public static (List<ParetoPoint> Points, List<ParetoPoint> Front) ParetoFront(DemoReport report)
    {
        var points = new List<ParetoPoint>();
        if (report.Fp32 is { } f && DemoTable.Metric(f.Metrics, report.PrimaryMetric) is { } fv) points.Add(new ParetoPoint("fp32", f.BitsPerWeight, fv));
        foreach (var s in report.Ran())
            if (s.BitsPerWeight is { } b && DemoTable.Metric(s.Metrics, report.PrimaryMetric) is { } v) points.Add(new ParetoPoint(s.Name, b, v));
        return (points, ParetoFront(points));
    }

    /// <summary>The points no other point dominates (fewer or equal bits and a higher or equal value, one of them
    /// strictly), by bits.</summary>
    public static List<ParetoPoint> ParetoFront(IReadOnlyList<ParetoPoint> points) =>
        points.Where(p => !points.Any(q => q != p && q.Bits <= p.Bits && q.Value >= p.Value && (q.Bits < p.Bits || q.Value > p.Value)))
            .OrderBy(p => p.Bits).ToList();

    private static byte[]? Pareto(DemoReport report)
    {
        var (points, front) = ParetoFront(report);
        if (points.Count < 2) return null;
        bool accuracy = report.PrimaryMetric == EvaluationMetricNames.Accuracy;
        double Y(double v) => accuracy ? 100 * v : v;
        var plot = NewPlot();
        double[] xs = points.Select(p => Math.Log2(p.Bits)).ToArray(), ys = points.Select(p => Y(p.Value)).ToArray();
        var frontLine = plot.Add.ScatterLine(front.Select(p => Math.Log2(p.Bits)).ToArray(), front.Select(p => Y(p.Value)).ToArray(), Palette[2]);
        frontLine.LineWidth = 2;
        frontLine.LinePattern = LinePattern.Dashed;
        frontLine.MarkerSize = 0;
        var ringed = plot.Add.ScatterPoints(front.Select(p => Math.Log2(p.Bits)).ToArray(), front.Select(p => Y(p.Value)).ToArray(), Palette[2]);
        ringed.MarkerSize = 16;
        ringed.MarkerShape = MarkerShape.OpenCircle;
        for (int i = 0; i < points.Count; i++)
        {
            var dot = plot.Add.ScatterPoints(new[] { xs[i] }, new[] { ys[i] }, points[i].Name == "fp32" ? Fp32Color : Palette[(i - 1 + Palette.Length) % Palette.Length]);
            dot.MarkerSize = 9;
            if (FontSupport.HasFonts)
            {
                var label = plot.Add.Text(points[i].Name, xs[i], ys[i]);
                label.LabelFontSize = 11;
                label.LabelOffsetX = 8;
                label.LabelOffsetY = i % 2 == 0 ? -14 : 2;   // alternate above and below: neighbours' names do not overlap
            }
        }
        var (lo, hi) = PlotFormat.Near(ys);
        plot.Axes.SetLimitsY(lo, hi);
        double left = Math.Log2(points.Min(p => p.Bits)) - 0.3, right = Math.Log2(points.Max(p => p.Bits)) + 0.9;
        plot.Axes.SetLimitsX(left, right);
        if (FontSupport.HasFonts)
        {
            double[] bits = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32];
            var shown = bits.Where(b => Math.Log2(b) >= left && Math.Log2(b) <= right).ToArray();
            plot.Axes.Bottom.SetTicks(shown.Select(Math.Log2).ToArray(), shown.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
            plot.XLabel("storage bits per compressed weight (log scale)");
            plot.YLabel(accuracy ? "accuracy (%)" : report.PrimaryMetric);
            plot.Title($"{report.PrimaryMetric} vs size: Pareto front ringed");
        }
        return plot.GetImageBytes(Width, Height + 60, ImageFormat.Png);
    }

    /// <summary>Horizontal bars, one per model (FP32 first, on top), names on the vertical axis; values in
    /// <paramref name="unit"/> (KiB/MiB for bytes, % for a fraction). With <paramref name="nearData"/> the axis starts
    /// near the values (a metric: 96.4 % and 99.2 % must look different), else at zero (sizes, times).</summary>
    private static byte[]? Bars(List<(string Name, double? Value)> column, string title, string unit, bool nearData)
    {
        var rows = column.Where(c => c.Value is not null).ToList();
        if (rows.Count == 0) return null;
        var plot = NewPlot();
        var values = rows.Select(r => r.Value!.Value).ToList();
        var (lo, hi) = nearData ? PlotFormat.Near(values) : (0, values.Max());
        int n = rows.Count;
        var bars = plot.Add.Bars(rows.Select((r, i) => new Bar
        {
            Position = n - 1 - i, Value = r.Value!.Value, ValueBase = lo, FillColor = r.Name == "fp32" ? Fp32Color : Palette[(i - 1 + Palette.Length) % Palette.Length],
            Label = FontSupport.HasFonts ? PlotFormat.Value(r.Value.Value, unit) : "",
        }).ToList());
        bars.Horizontal = true;
        double right = hi + (hi - lo) * 0.25;
        plot.Axes.SetLimitsX(lo, right);
        plot.Axes.SetLimitsY(-0.6, n - 0.4);
        if (FontSupport.HasFonts)
        {
            plot.Axes.Left.SetTicks(rows.Select((_, i) => (double)(n - 1 - i)).ToArray(), rows.Select(r => r.Name).ToArray());
            if (unit == "bytes")
            {
                var (positions, labels) = PlotFormat.ByteTicks(right);
                plot.Axes.Bottom.SetTicks(positions, labels);
            }
            else if (unit == "fraction")
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => PlotFormat.Value(v, unit) };
            plot.Title(title);
            plot.XLabel(PlotFormat.AxisTitle(title, unit));
        }
        return plot.GetImageBytes(Width, 90 + n * 30, ImageFormat.Png);
    }

    private static byte[]? Lines(string name, List<(string Step, SeriesResult Series)> lines)
    {
        var plot = NewPlot();
        int drawn = 0;
        foreach (var (step, s) in lines)
        {
            var points = s.X.Zip(s.Y).Where(p => p.First is not null && p.Second is not null).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.ScatterLine(points.Select(p => p.First!.Value).ToArray(), points.Select(p => p.Second!.Value).ToArray(), Palette[drawn % Palette.Length]);
            line.LineWidth = 2;
            line.MarkerSize = 0;
            if (FontSupport.HasFonts) line.LegendText = step;
            drawn++;
        }
        if (drawn == 0) return null;
        if (FontSupport.HasFonts)
        {
            plot.Title(name);
            plot.XLabel(lines[0].Series.XLabel);
            plot.YLabel(lines[0].Series.YLabel);
            plot.ShowLegend(Edge.Right);
        }
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        if (FontSupport.AvailableFamily is { } family) plot.Font.Set(family);
        else
        {
            foreach (var axis in plot.Axes.GetAxes())
            {
                axis.TickLabelStyle.IsVisible = false;
                axis.Label.IsVisible = false;
            }
            plot.Axes.Title.IsVisible = false;
        }
        return plot;
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
