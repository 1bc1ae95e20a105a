using Compressor.Engine.Evaluation;
using Compressor.Host.Results;
using Compressor.Sdk.Diagnostics;
using ScottPlot;

namespace Compressor.Host.Reports;

/// <summary>Renders the plots of a run report with ScottPlot:
/// <list type="bullet">
/// <item>each metric against its reference (not the fidelity metrics, whose reference is the reference compared with
/// itself): two points on an axis that starts near them, in the metric's unit (accuracy in %);</item>
/// <item>where the bytes of the written file are (compressed layers, layers left in float32, other tensors, overhead);</item>
/// <item>weight SQNR per compressed layer, sorted worst first, on an axis near the data;</item>
/// <item>bytes per compressed layer, compressed vs float32, in KiB/MiB;</item>
/// <item>every <c>series[]</c> entry whose values change, as a line (a constant series is named in the text instead).</item>
/// </list>
/// Layer names sit on the vertical axis of horizontal bars, wrapped at their dots, and the plot grows with their count.
/// A plot that fails to render is left out with a warning; without fonts, plots are drawn without text
/// (<see cref="FontSupport"/>).</summary>
public static class ReportPlots
{
    private const int Width = 760, Height = 360, SmallWidth = 380, SmallHeight = 200, RowHeight = 22;
    private static readonly Color ModelColor = Color.FromHex("#1f77b4");
    private static readonly Color ReferenceColor = Color.FromHex("#999999");
    private static readonly Color DenseColor = Color.FromHex("#ff7f0e");
    private static readonly Color[] PartColors = [Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#bbbbbb"), Color.FromHex("#7f7f7f")];

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
            Try($"metric-{Slug(m.Name)}", $"{m.Name}: compressed model vs reference{Unit(m)}; the axis starts near the values", () => MetricDots(m));
        if (report.Sizes is { } sizes)
            Try("size-breakdown", $"Where the {Headline.Bytes(sizes.TotalBytes)} of {sizes.File} are", () => SizeParts(sizes));
        var layers = report.Layers;
        if (layers.Count > 0)
        {
            Try("layer-sqnr", "Weight SQNR per compressed layer, worst first (dB; higher is closer to the original; exact layers are left out)", () => LayerSqnr(layers));
            Try("layer-bytes", "Bytes per compressed layer: compressed (theoretical) vs float32", () => LayerBytes(layers));
        }
        foreach (var s in report.Series)
        {
            if (Constant(s) is not null) continue;
            string y = s.YLabel is { Length: > 0 } label ? label : "value";
            Try($"series-{Slug(s.Name)}", $"{s.Name} ({y} per {s.XLabel})", () => SeriesLine(s));
        }
        return plots;
    }

    /// <summary>The layers with a finite SQNR, lowest (worst) first — the order of the per-layer error plot.</summary>
    public static IReadOnlyList<LayerResult> WorstFirst(IReadOnlyList<LayerResult> layers) =>
        layers.Where(l => l.SqnrDb is not null).OrderBy(l => l.SqnrDb).ThenBy(l => l.Name, StringComparer.Ordinal).ToList();

    /// <summary>The value of a series whose every point is the same (not plotted), or null.</summary>
    public static double? Constant(SeriesResult s)
    {
        var ys = s.X.Zip(s.Y).Where(p => p.First is not null && p.Second is not null).Select(p => p.Second!.Value).ToList();
        return ys.Count > 0 && PlotFormat.IsConstant(ys) ? ys[0] : null;
    }

    private static byte[]? MetricDots(MetricResult m)
    {
        double value = m.Value!.Value, reference = m.Reference!.Value;
        var plot = NewPlot();
        var (lo, hi) = PlotFormat.Near([value, reference]);
        // Two rows (compressed on top); each value drawn as a bar from the start of the axis, so the difference shows.
        var bars = plot.Add.Bars(new[]
        {
            new Bar { Position = 1, Value = value, ValueBase = lo, FillColor = ModelColor, Label = Label(PlotFormat.Value(value, m.Unit)) },
            new Bar { Position = 0, Value = reference, ValueBase = lo, FillColor = ReferenceColor, Label = Label(PlotFormat.Value(reference, m.Unit)) },
        });
        bars.Horizontal = true;
        Ticks(plot.Axes.Left, [1, 0], ["compressed", "reference"]);
        ValueTicks(plot.Axes.Bottom, m.Unit);
        plot.Axes.SetLimitsX(lo, hi + (hi - lo) * 0.25);
        plot.Axes.SetLimitsY(-0.6, 1.6);
        Title(plot, m.Name);
        XLabel(plot, PlotFormat.AxisTitle(m.Name, m.Unit));
        return Png(plot, SmallWidth + 100, SmallHeight);
    }

    private static byte[]? SizeParts(SizeBreakdown sizes)
    {
        var parts = sizes.Parts().ToList();
        if (sizes.TotalBytes <= 0) return null;
        var plot = NewPlot();
        var bars = plot.Add.Bars(parts.Select((p, i) => new Bar
        {
            Position = parts.Count - 1 - i, Value = p.Bytes, FillColor = PartColors[i % PartColors.Length],
            Label = Label($"{Headline.Bytes(p.Bytes)} ({(100.0 * p.Bytes / sizes.TotalBytes).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} %)"),
        }).ToList());
        bars.Horizontal = true;
        Ticks(plot.Axes.Left, parts.Select((_, i) => (double)(parts.Count - 1 - i)).ToArray(), parts.Select(p => PlotFormat.Wrap(p.Part, 32)).ToArray());
        double right = parts.Max(p => p.Bytes) * 1.35 + 1;
        ByteAxis(plot.Axes.Bottom, right);
        plot.Axes.SetLimitsX(0, right);
        plot.Axes.SetLimitsY(-0.6, parts.Count - 0.4);
        Title(plot, $"{sizes.File}: {Headline.Bytes(sizes.TotalBytes)}");
        return Png(plot, Width, 90 + parts.Count * 34);
    }

    private static byte[]? LayerSqnr(IReadOnlyList<LayerResult> layers)
    {
        var rows = WorstFirst(layers);
        if (rows.Count == 0) return null;
        var plot = NewPlot();
        var (lo, hi) = PlotFormat.Near(rows.Select(r => r.SqnrDb!.Value).ToList());
        var bars = plot.Add.Bars(rows.Select((r, i) => new Bar
        {
            Position = rows.Count - 1 - i, Value = r.SqnrDb!.Value, ValueBase = lo, FillColor = ModelColor,
            Label = rows.Count <= 40 ? Label(r.SqnrDb.Value.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)) : "",
        }).ToList());
        bars.Horizontal = true;
        Ticks(plot.Axes.Left, rows.Select((_, i) => (double)(rows.Count - 1 - i)).ToArray(), rows.Select(r => PlotFormat.Wrap(r.Name)).ToArray());
        plot.Axes.SetLimitsX(lo, hi + (hi - lo) * 0.12);
        plot.Axes.SetLimitsY(-0.6, rows.Count - 0.4);
        Title(plot, "Weight SQNR per layer, worst first");
        XLabel(plot, "SQNR (dB)");
        return Png(plot, Width, LayerPlotHeight(rows.Select(r => r.Name)));
    }

    private static byte[]? LayerBytes(IReadOnlyList<LayerResult> layers)
    {
        var plot = NewPlot();
        var bars = new List<Bar>();
        int n = layers.Count;
        for (int i = 0; i < n; i++)
        {
            double dense = layers[i].Shape.Select(x => (double)x).Aggregate(1.0, (a, b) => a * b) * 4;
            double y = n - 1 - i;
            bars.Add(new Bar { Position = y + 0.18, Value = layers[i].Bytes, FillColor = ModelColor, Size = 0.36 });
            bars.Add(new Bar { Position = y - 0.18, Value = dense, FillColor = DenseColor, Size = 0.36 });
        }
        var plotted = plot.Add.Bars(bars);
        plotted.Horizontal = true;
        Ticks(plot.Axes.Left, layers.Select((_, i) => (double)(n - 1 - i)).ToArray(), layers.Select(l => PlotFormat.Wrap(l.Name)).ToArray());
        double right = bars.Max(b => b.Value) * 1.05;
        ByteAxis(plot.Axes.Bottom, right);
        plot.Axes.SetLimitsX(0, right);
        plot.Axes.SetLimitsY(-0.6, n - 0.4);
        Title(plot, "Bytes per layer");
        XLabel(plot, PlotFormat.AxisTitle("size", "bytes"));
        if (FontSupport.HasFonts)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "compressed", FillColor = ModelColor });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "float32", FillColor = DenseColor });
            plot.ShowLegend(Edge.Top);
        }
        return Png(plot, Width, LayerPlotHeight(layers.Select(l => l.Name)) + 30);
    }

    private static byte[]? SeriesLine(SeriesResult s)
    {
        var points = s.X.Zip(s.Y).Where(p => p.First is not null && p.Second is not null).Select(p => (X: p.First!.Value, Y: p.Second!.Value)).ToList();
        if (points.Count == 0) return null;
        var plot = NewPlot();
        var line = plot.Add.ScatterLine(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), ModelColor);
        line.LineWidth = 2;
        line.MarkerSize = points.Count <= 50 ? 5 : 0;
        var (lo, hi) = PlotFormat.Near(points.Select(p => p.Y).ToList());
        plot.Axes.SetLimitsY(lo, hi);
        Title(plot, s.Name);
        XLabel(plot, s.XLabel);
        YLabel(plot, s.YLabel);
        return Png(plot, Width, Height);
    }

    /// <summary>Room for one row per layer (two text lines for a wrapped name).</summary>
    private static int LayerPlotHeight(IEnumerable<string> names) =>
        110 + names.Sum(n => Math.Max(RowHeight, PlotFormat.Wrap(n).Count(c => c == '\n') * 13 + RowHeight));

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

    private static void Ticks(IAxis axis, double[] positions, string[] labels)
    {
        if (!FontSupport.HasFonts) return;
        axis.SetTicks(positions, labels);
        axis.MajorTickStyle.Length = 0;
    }

    /// <summary>A byte axis from 0 to <paramref name="max"/> with round steps of KiB/MiB.</summary>
    private static void ByteAxis(IAxis axis, double max)
    {
        if (!FontSupport.HasFonts) return;
        var (positions, labels) = PlotFormat.ByteTicks(max);
        axis.SetTicks(positions, labels);
    }

    /// <summary>Ticks of <paramref name="axis"/> written in <paramref name="unit"/> (KiB/MiB for bytes, % for fractions).</summary>
    private static void ValueTicks(IAxis axis, string unit)
    {
        if (!FontSupport.HasFonts || unit is not ("bytes" or "fraction")) return;
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => PlotFormat.Value(v, unit) };
    }

    private static string Label(string text) => FontSupport.HasFonts ? text : "";

    private static void Title(Plot plot, string text) { if (FontSupport.HasFonts) plot.Title(text); }
    private static void XLabel(Plot plot, string text) { if (FontSupport.HasFonts && text.Length > 0) plot.XLabel(text); }
    private static void YLabel(Plot plot, string text) { if (FontSupport.HasFonts && text.Length > 0) plot.YLabel(text); }

    private static byte[] Png(Plot plot, int width, int height) => plot.GetImageBytes(width, height, ImageFormat.Png);

    private static string Unit(MetricResult m) => m.Unit is { Length: > 0 } u ? $" ({u})" : "";

    internal static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
}
