using System.Globalization;
using Compressor.Engine.Evaluation;
using Compressor.Sdk;

namespace Compressor.Host.Search;

/// <summary>A parsed <c>--keep METRIC&gt;=X</c> (or <c>&lt;=</c>): the evaluation metric a chosen model must keep,
/// measured on ONNX Runtime over the evaluation split exactly as <c>compress run --data</c> reports it. X is a number,
/// or <c>ref-D</c> / <c>ref+D</c> / <c>ref*F</c>: relative to the uncompressed model's value measured in the same run
/// (<c>accuracy&gt;=ref-0.01</c>: within one point of FP32).</summary>
/// <param name="Metric">An evaluation metric name: accuracy, cosine, top1Agreement, klDivergence, perplexity.</param>
/// <param name="AtLeast">True for <c>&gt;=</c>, false for <c>&lt;=</c>.</param>
/// <param name="Value">The number, or the offset/factor of a relative threshold.</param>
/// <param name="Relative">null for an absolute threshold; '-', '+' or '*' for one relative to the reference.</param>
public sealed record KeepSpec(string Metric, bool AtLeast, double Value, char? Relative)
{
    /// <summary>The metrics <c>--keep</c> knows, in the spelling of report.json.</summary>
    public static readonly IReadOnlyList<string> Metrics =
    [
        EvaluationMetricNames.Accuracy, EvaluationMetricNames.Cosine, EvaluationMetricNames.Top1Agreement,
        EvaluationMetricNames.KlDivergence, EvaluationMetricNames.Perplexity,
    ];

    /// <summary>Whether a larger value of the metric is better (accuracy, cosine, agreement) or a smaller one (KL, perplexity).</summary>
    public bool HigherIsBetter => Metric is not (EvaluationMetricNames.KlDivergence or EvaluationMetricNames.Perplexity);

    /// <summary>Whether the metric compares the model with the reference's outputs (no labels needed).</summary>
    public bool IsFidelity => Metric is EvaluationMetricNames.Cosine or EvaluationMetricNames.Top1Agreement or EvaluationMetricNames.KlDivergence;

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="CompressException">Malformed, or an unknown metric (InvalidOptions).</exception>
    public static KeepSpec Parse(string text)
    {
        CompressException Bad(string why) => new(ErrorKind.InvalidOptions, $"--keep '{text}': {why}");
        string s = text.Replace(" ", "", StringComparison.Ordinal);
        int ge = s.IndexOf(">=", StringComparison.Ordinal), le = s.IndexOf("<=", StringComparison.Ordinal);
        if (ge < 0 && le < 0) throw Bad("expected METRIC>=X or METRIC<=X, e.g. cosine>=0.99 or accuracy>=ref-0.01");
        bool atLeast = ge >= 0;
        int at = atLeast ? ge : le;
        string metric = s[..at], value = s[(at + 2)..];
        string? known = Metrics.FirstOrDefault(m => m.Equals(metric, StringComparison.OrdinalIgnoreCase));
        if (known is null) throw Bad($"unknown metric '{metric}' (known: {string.Join(", ", Metrics)})");
        char? relative = null;
        if (value.StartsWith("ref", StringComparison.OrdinalIgnoreCase))
        {
            string rest = value[3..];
            if (rest.Length == 0) { relative = '+'; rest = "0"; }
            else
            {
                if (rest[0] is not ('-' or '+' or '*')) throw Bad("a relative threshold is ref-D, ref+D or ref*F");
                relative = rest[0];
                rest = rest[1..];
            }
            value = rest;
        }
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw Bad($"'{value}' is not a number");
        return new KeepSpec(known, atLeast, v, relative);
    }

    /// <summary>The absolute threshold, given the reference model's value of the metric (needed for a relative one).</summary>
    public double Threshold(double? reference)
    {
        if (Relative is not { } r) return Value;
        if (reference is not { } rv) throw new CompressException(ErrorKind.InvalidInput, $"--keep {this}: the reference model has no {Metric} on this data");
        return r switch { '-' => rv - Value, '+' => rv + Value, _ => rv * Value };
    }

    /// <summary>Whether <paramref name="value"/> keeps the threshold.</summary>
    public bool Holds(double value, double threshold) => AtLeast ? value >= threshold : value <= threshold;

    /// <summary>The spec as written (e.g. <c>cosine&gt;=0.99</c>).</summary>
    public override string ToString() =>
        Metric + (AtLeast ? ">=" : "<=") + (Relative is { } r ? "ref" + (r == '+' && Value == 0 ? "" : r + Value.ToString("R", CultureInfo.InvariantCulture)) : Value.ToString("R", CultureInfo.InvariantCulture));
}
