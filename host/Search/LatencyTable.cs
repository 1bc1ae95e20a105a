namespace Compressor.Host.Search;

/// <summary>search.json <c>latency</c>: the latency costs a <c>--budget latency=…</c> search allocates over, measured on
/// ONNX Runtime on this machine (<see cref="LatencyProfiler"/>). The predicted latency of an allocation is
/// <see cref="RemainderMs"/> plus the chosen treatment's milliseconds of every searched layer; relative to FP32 it is
/// that sum divided by <see cref="ModelMs"/>.</summary>
/// <param name="Machine">What identifies the machine in the cache key (processor, logical cores, ONNX Runtime, intra-op threads).</param>
/// <param name="Threads">ONNX Runtime intra-op threads (as the end-to-end evaluation uses).</param>
/// <param name="Batch">Samples of the batch the input model was timed on (the evaluation's latency batch).</param>
/// <param name="ModelMs">Median latency of the input model exported as it is (FP32) on that batch.</param>
/// <param name="Fp32LayersMs">Sum of the searched layers' FP32 one-layer latencies.</param>
/// <param name="RemainderMs">What the layers leave of the model's latency (attention products, norms, embeddings, layers
/// not searched): <see cref="ModelMs"/> − <see cref="Fp32LayersMs"/>, at least 0.</param>
/// <param name="Method">How the numbers were taken.</param>
/// <param name="Cached">Entries read from the cache of an earlier search on this machine (the rest were measured now).</param>
/// <param name="Layers">Per searched layer: its activation rows and the milliseconds of each treatment that applies.</param>
public sealed record LatencyTable(
    string Machine,
    int Threads,
    long Batch,
    double ModelMs,
    double Fp32LayersMs,
    double RemainderMs,
    string Method,
    int Cached,
    IReadOnlyList<LayerLatency> Layers)
{
    /// <summary>The milliseconds of <paramref name="treatment"/> on <paramref name="layer"/>, or null when it does not apply.</summary>
    public double? Of(string layer, string treatment) =>
        Layers.FirstOrDefault(l => l.Layer == layer) is { } l && l.Milliseconds.TryGetValue(treatment, out double ms) ? ms : null;

    /// <summary>The predicted latency relative to the FP32 model of an allocation whose layers add up to <paramref name="layersMs"/>.</summary>
    public double Relative(double layersMs) => ModelMs > 0 ? (RemainderMs + layersMs) / ModelMs : double.NaN;
}

/// <summary>One row of <see cref="LatencyTable.Layers"/>.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Shape">Its weight's shape [out, in].</param>
/// <param name="Rows">Rows of its input on the latency batch (batch × positions): the one-layer graph's input is [Rows, in].</param>
/// <param name="Milliseconds">Treatment id → median milliseconds of the one-layer graph exported for speed.</param>
public sealed record LayerLatency(string Layer, long[] Shape, long Rows, IReadOnlyDictionary<string, double> Milliseconds);
