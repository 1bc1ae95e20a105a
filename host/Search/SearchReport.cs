using Compressor.Host.Results;

namespace Compressor.Host.Search;

/// <summary>search.json (docs/report-schema.md, "search.json"): what was searched, the sensitivity table, how the
/// allocation was solved, every evaluated candidate, the chosen one and, per layer, what was chosen and why.</summary>
/// <param name="SchemaVersion"><see cref="CurrentSchemaVersion"/>.</param>
/// <param name="Tool">The tool.</param>
/// <param name="Input">The input model.</param>
/// <param name="Data">The data spec.</param>
/// <param name="Budget">The budget as given (<c>bits=min</c>, <c>size=20000000B</c>, …).</param>
/// <param name="Keep">The keep constraint as given.</param>
/// <param name="Threshold">The keep threshold on ONNX Runtime (a relative one resolved against the reference's value).</param>
/// <param name="ReferenceMetric">The uncompressed model's value of the metric on ONNX Runtime (null when no candidate ran).</param>
/// <param name="Target">size or speed.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Treatments">The candidate treatments.</param>
/// <param name="Sensitivity">How the layer damages were found.</param>
/// <param name="Allocation">How the allocation was solved.</param>
/// <param name="Layers">Per searched layer: the chosen treatment and why.</param>
/// <param name="Candidates">Every evaluated candidate, cheapest first.</param>
/// <param name="Chosen">The chosen candidate's id, or null when the budget could not be met.</param>
/// <param name="Timings">Seconds per stage.</param>
/// <param name="Warnings">What the user should know.</param>
/// <param name="Latency">The per-layer latency table of a <c>--budget latency</c> search (null otherwise).</param>
public sealed record SearchReport(
    int SchemaVersion,
    ToolInfo Tool,
    InputFile Input,
    string Data,
    string Budget,
    string Keep,
    double? Threshold,
    double? ReferenceMetric,
    string Target,
    int Seed,
    IReadOnlyList<TreatmentEntry> Treatments,
    SensitivitySummary Sensitivity,
    AllocationSummary Allocation,
    IReadOnlyList<LayerChoice> Layers,
    IReadOnlyList<Candidate> Candidates,
    string? Chosen,
    IReadOnlyDictionary<string, double> Timings,
    IReadOnlyList<string> Warnings,
    [property: Newtonsoft.Json.JsonProperty(NullValueHandling = Newtonsoft.Json.NullValueHandling.Ignore)] LatencyTable? Latency = null)
{
    /// <summary>The schema version of search.json.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The chosen candidate, or null.</summary>
    public Candidate? ChosenCandidate => Candidates.FirstOrDefault(c => c.Id == Chosen);
}

/// <summary>A treatment of search.json: its id, plugin (null: float32) and step options.</summary>
public sealed record TreatmentEntry(string Id, string? Plugin, Newtonsoft.Json.Linq.JObject Options);

/// <summary>search.json <c>sensitivity</c>.</summary>
/// <param name="Mode"><c>measured</c> or <c>fisher</c>.</param>
/// <param name="Reason">Why this mode (asked for, or the estimate of the measured one's time under <c>--sensitivity auto</c>).</param>
/// <param name="Damage">What the damage is for this metric.</param>
/// <param name="Samples">Evaluation samples of the in-process measurements.</param>
/// <param name="InProcessReference">The uncompressed model's value of the metric in process.</param>
/// <param name="Seconds">Time of the analysis.</param>
/// <param name="Trials">Every layer × treatment (treatments that do not apply to a layer are left out).</param>
public sealed record SensitivitySummary(string Mode, string Reason, string Damage, long Samples, double InProcessReference, double Seconds, IReadOnlyList<LayerTrial> Trials);

/// <summary>search.json <c>allocation</c>.</summary>
/// <param name="Solver">The method.</param>
/// <param name="Cost">What is budgeted (bits of the searched weights, …).</param>
/// <param name="Unit">The discretisation unit of the cost.</param>
/// <param name="Capacity">The budget in units (null for <c>min</c>: the whole frontier).</param>
/// <param name="Gap">The optimality statement.</param>
/// <param name="FrontierPoints">Points on the predicted cost–damage frontier.</param>
public sealed record AllocationSummary(string Solver, string Cost, double Unit, long? Capacity, string Gap, int FrontierPoints);

/// <summary>A row of the per-layer table.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Shape">Its weight's shape.</param>
/// <param name="Weights">Its weights.</param>
/// <param name="Treatment">The chosen treatment.</param>
/// <param name="Bits">Storage bits of the chosen treatment.</param>
/// <param name="BitsPerWeight">Bits per weight of the chosen treatment.</param>
/// <param name="Damage">Its damage alone.</param>
/// <param name="Why">Why this one: the next cheaper (or, for latency, faster) treatment and what it would cost in damage.</param>
/// <param name="Milliseconds">Latency of the chosen treatment on ONNX Runtime (latency budgets only).</param>
public sealed record LayerChoice(string Layer, long[] Shape, long Weights, string Treatment, long Bits, double BitsPerWeight, double Damage, string Why,
    [property: Newtonsoft.Json.JsonProperty(NullValueHandling = Newtonsoft.Json.NullValueHandling.Ignore)] double? Milliseconds = null);
