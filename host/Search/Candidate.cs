using Newtonsoft.Json;

namespace Compressor.Host.Search;

/// <summary>One evaluated point of a search (search.json <c>candidates[]</c>): an allocation of treatments to layers,
/// what the allocation predicted, what the in-process evaluation measured, and — for the points run end to end —
/// what the ordinary pipeline measured on ONNX Runtime.</summary>
public sealed class Candidate
{
    /// <summary>The first 16 hex digits of the hash of its recipe (and of the inputs): its cache folder's name.</summary>
    public required string Id { get; init; }

    /// <summary>Treatment per searched layer, in layer order.</summary>
    public required IReadOnlyDictionary<string, string> Allocation { get; init; }

    /// <summary>Sum of the layers' damages (the allocation's objective).</summary>
    public double PredictedDamage { get; init; }

    /// <summary>Storage bits of the searched layers' weights.</summary>
    public long WeightBits { get; init; }

    /// <summary>Bits per searched weight.</summary>
    public double BitsPerWeight { get; init; }

    /// <summary>Predicted latency relative to FP32 (latency budgets only).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? PredictedLatency { get; init; }

    /// <summary>The keep metric measured in process (null when not measured).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? InProcessMetric { get; set; }

    /// <summary>The keep metric on ONNX Runtime over the evaluation split (end-to-end runs only).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? OrtMetric { get; set; }

    /// <summary>The uncompressed model's value of the metric in the same run.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? OrtReference { get; set; }

    /// <summary>Bytes of the exported model.onnx.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public long? OnnxBytes { get; set; }

    /// <summary>Bytes of the compressed checkpoint.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public long? CheckpointBytes { get; set; }

    /// <summary>Median speed-up over the uncompressed model on ONNX Runtime (interleaved runs; &gt; 1 is faster).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? SpeedUp { get; set; }

    /// <summary>25th percentile of the per-run speed-ups (its spread: on a loaded machine it is wide).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? SpeedUpP25 { get; set; }

    /// <summary>75th percentile of the per-run speed-ups.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public double? SpeedUpP75 { get; set; }

    /// <summary>Whether the ONNX Runtime metric keeps <c>--keep</c>.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public bool? MeetsKeep { get; set; }

    /// <summary>Whether the measured cost meets <c>--budget</c>.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public bool? MeetsBudget { get; set; }

    /// <summary>Whether the end-to-end result came from the cache of an earlier search.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public bool? Cached { get; set; }

    /// <summary>Why the end-to-end run failed, if it did.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public string? Error { get; set; }

    /// <summary>Whether it was run end to end (exported, verified, evaluated on ONNX Runtime).</summary>
    [JsonIgnore]
    public bool Verified => OrtMetric is not null;
}
