using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Sdk.Reports;

/// <summary>Collects what a run measured — per-layer rows, metrics, series, warnings — for the host to render as
/// report.json/.md/.html. Thread-safe.</summary>
public sealed class ReportBuilder
{
    private readonly object _gate = new();
    private readonly List<LayerRow> _layers = [];
    private readonly List<Metric> _metrics = [];
    private readonly List<Series> _series = [];
    private readonly List<string> _warnings = [];

    /// <summary>Per-layer rows, in the order added.</summary>
    public IReadOnlyList<LayerRow> Layers { get { lock (_gate) return _layers.ToList(); } }

    /// <summary>Metrics, in the order added.</summary>
    public IReadOnlyList<Metric> Metrics { get { lock (_gate) return _metrics.ToList(); } }

    /// <summary>Series, in the order added.</summary>
    public IReadOnlyList<Series> Series { get { lock (_gate) return _series.ToList(); } }

    /// <summary>Warnings, in the order added.</summary>
    public IReadOnlyList<string> Warnings { get { lock (_gate) return _warnings.ToList(); } }

    /// <summary>Adds a layer row (a later row for the same name replaces the earlier one).</summary>
    public void AddLayer(LayerRow row)
    {
        lock (_gate)
        {
            _layers.RemoveAll(r => r.Name == row.Name);
            _layers.Add(row);
        }
    }

    /// <summary>Adds the row of compressed layer <paramref name="name"/>, measuring its weight SQNR against <paramref name="original"/>.</summary>
    public void AddLayer(string name, ICompressedLayer layer, Tensor original)
    {
        using var dense = layer.DenseWeight();
        long count = original.numel();
        AddLayer(new LayerRow(name, layer.Kind, original.shape, (double)layer.WeightStorageBits / count, Sqnr.Db(original, dense),
            (layer.WeightStorageBits + 7) / 8));
    }

    /// <summary>Adds a metric.</summary>
    public void AddMetric(Metric metric) { lock (_gate) _metrics.Add(metric); }

    /// <summary>Adds a series.</summary>
    public void AddSeries(Series series) { lock (_gate) _series.Add(series); }

    /// <summary>Adds a warning.</summary>
    public void Warn(string warning) { lock (_gate) _warnings.Add(warning); }
}
