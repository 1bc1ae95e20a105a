using Compressor.Engine.Evaluation;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
using ScottPlot;

namespace Compressor.Host.Reports;

/// <summary>Renders the plots of a run report with ScottPlot: each metric against its reference (bars; not the
/// fidelity metrics, whose reference value is the reference compared with itself), weight
/// SQNR per compressed layer (bars), bytes per layer (compressed vs float32, bars), and every <c>series[]</c> entry as
/// a line (training curves, oscillation counts, CGA unfrozen counts). A plot that fails to render is left out with a
/// warning; without fonts, plots are drawn without text (<see cref="FontSupport"/>).</summary>
public static class ReportPlots
{
    private const int Width = 720, Height = 360, SmallWidth = 320, SmallHeight = 260;
    private static readonly Color ModelColor = Color.FromHex("#1f77b4");
    private static readonly Color ReferenceColor = Color.FromHex("#aaaaaa");
    private static readonly Color DenseColor = Color.FromHex("#ff7f0e");

    /// <summary>All plots of <paramref name="report"/>, in report order.</summary>
    public static IReadOnlyList<ReportPlot> Render(RunReport report, IPluginLogger? log = null)
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
                log?.Warn($"report plot '{caption}' left out: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}");
            }
        }
        string[] fidelity = [EvaluationMetricNames.Cosine, EvaluationMetricNames.Top1Agreement, EvaluationMetricNames.KlDivergence];
        foreach (var m in report.Metrics.Where(m => m.Value is not null && m.Reference is not null && !fidelity.Contains(m.Name)))
            Try($"metric-{Slug(m.Name)}", $"{m.Name}: compressed model vs reference{Unit(m)}", () => MetricBars(m));
        var layers = report.Layers;
        if (layers.Count > 0)
        {
            Try("layer-sqnr", "Weight SQNR per compressed layer (dB; higher is closer to the original; exact layers are left out)", () => LayerSqnr(layers));
            Try("layer-bytes", "Bytes per compressed layer: compressed (theoretical) vs float32", () => LayerBytes(layers));
        }
        foreach (var s in report.Series)
        {
            string y = s.YLabel is { Length: > 0 } label ? label : "value";
            Try($"series-{Slug(s.Name)}", $"{s.Name} ({y} per {s.XLabel})", () => SeriesLine(s));
        }
        return plots;
    }

    private static byte[]? MetricBars(MetricResult m)
    {
        var plot = NewPlot();
        double value = m.Value!.Value, reference = m.Reference!.Value;
        plot.Add.Bars(new Bar[] { new Bar { Position = 0, Value = value, FillColor = ModelColor, Label = Short(value) }, new Bar { Position = 1, Value = reference, FillColor = ReferenceColor, Label = Short(reference) } });
        Ticks(plot.Axes.Bottom, [0, 1], ["compressed", "reference"]);
        Title(plot, m.Name);
        YLabel(plot, m.Unit);
        plot.Axes.Margins(bottom: 0, top: 0.15);
        return Png(plot, SmallWidth, SmallHeight);
    }

    private static byte[]? LayerSqnr(IReadOnlyList<LayerResult> layers)
    {
        var rows = layers.Select(l => (l.Name, Db: l.SqnrDb)).Where(r => r.Db is not null).ToList();
        if (rows.Count == 0) return null;
        var plot = NewPlot();
        plot.Add.Bars(rows.Select((r, i) => new Bar { Position = i, Value = r.Db!.Value, FillColor = ModelColor }).ToList());
        Ticks(plot.Axes.Bottom, rows.Select((_, i) => (double)i).ToArray(), rows.Select(r => r.Name).ToArray(), plot);
        Title(plot, "Weight SQNR per layer");
        YLabel(plot, "SQNR (dB)");
        plot.Axes.Margins(bottom: 0);
        return Png(plot, Width, Height + (rows.Count > 4 ? 80 : 0));
    }

    private static byte[]? LayerBytes(IReadOnlyList<LayerResult> layers)
    {
        var plot = NewPlot();
        var bars = new List<Bar>();
        for (int i = 0; i < layers.Count; i++)
        {
            double dense = layers[i].Shape.Select(x => (double)x).Aggregate(1.0, (a, b) => a * b) * 4;
            bars.Add(new Bar { Position = 3 * i, Value = layers[i].Bytes, FillColor = ModelColor });
            bars.Add(new Bar { Position = 3 * i + 1, Value = dense, FillColor = DenseColor });
        }
        plot.Add.Bars(bars);
        Ticks(plot.Axes.Bottom, layers.Select((_, i) => 3.0 * i + 0.5).ToArray(), layers.Select(l => l.Name).ToArray(), plot);
        Title(plot, "Bytes per layer");
        YLabel(plot, "bytes");
        if (FontSupport.HasFonts)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "compressed", FillColor = ModelColor });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "float32", FillColor = DenseColor });
            plot.ShowLegend(Edge.Top);
        }
        plot.Axes.Margins(bottom: 0, top: 0.12);
        return Png(plot, Width, Height + (layers.Count > 4 ? 80 : 0));
    }

    private static byte[]? SeriesLine(SeriesResult s)
    {
        var points = s.X.Zip(s.Y).Where(p => p.First is not null && p.Second is not null).Select(p => (X: p.First!.Value, Y: p.Second!.Value)).ToList();
        if (points.Count == 0) return null;
        var plot = NewPlot();
        var line = plot.Add.ScatterLine(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), ModelColor);
        line.LineWidth = 2;
        line.MarkerSize = points.Count <= 50 ? 5 : 0;
        Title(plot, s.Name);
        XLabel(plot, s.XLabel);
        YLabel(plot, s.YLabel);
        return Png(plot, Width, Height);
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        if (FontSupport.AvailableFamily is { } family) plot.Font.Set(family);
        else
        {
            // No font on this machine: draw axes, bars and lines only; the caption in the report carries the words.
            foreach (var axis in plot.Axes.GetAxes())
            {
                axis.TickLabelStyle.IsVisible = false;
                axis.Label.IsVisible = false;
            }
            plot.Axes.Title.IsVisible = false;
        }
        return plot;
    }

    private static void Ticks(ScottPlot.IAxis axis, double[] positions, string[] labels, Plot? plot = null)
    {
        if (!FontSupport.HasFonts) return;
        var shown = labels.Select(l => l.Length > 28 ? "…" + l[^27..] : l).ToArray();
        axis.SetTicks(positions, shown);
        if (labels.Length <= 4 || plot is null) return;
        // Many layers: labels turned 45° clockwise hang down to the right; ScottPlot does not size the axis panel
        // for turned labels, so reserve the room (about 5.5 px of height and width per character at the default size).
        axis.TickLabelStyle.Rotation = 45;
        axis.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        float room = shown.Max(l => l.Length) * 5.5f + 16;
        axis.MinimumSize = room;
        plot.Axes.Right.MinimumSize = room * 0.8f;
    }

    private static void Title(Plot plot, string text) { if (FontSupport.HasFonts) plot.Title(text); }
    private static void XLabel(Plot plot, string text) { if (FontSupport.HasFonts && text.Length > 0) plot.XLabel(text); }
    private static void YLabel(Plot plot, string text) { if (FontSupport.HasFonts && text.Length > 0) plot.YLabel(text); }

    private static byte[] Png(Plot plot, int width, int height) => plot.GetImageBytes(width, height, ImageFormat.Png);

    private static string Short(double v) => FontSupport.HasFonts ? v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) : "";

    private static string Unit(MetricResult m) => m.Unit is { Length: > 0 } u ? $" ({u})" : "";

    internal static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
}
