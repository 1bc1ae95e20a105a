using System.Globalization;
using Compressor.Host.Pipeline;
using Compressor.Host.Reports;
using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary>The text summary of a run on stdout: files, the headline, sizes, the ONNX model and its verification,
/// the evaluation (how many samples), where the bytes are and which layers stayed float32 (with what would compress
/// them), timings, warnings and the per-layer table. A line appears only for what ran.</summary>
public static class RunSummary
{
    /// <summary>How many float32 layers are named (the largest); report.json lists them all.</summary>
    public const int Fp32LayersShown = 5;

    /// <summary>Writes the summary of <paramref name="result"/>.</summary>
    public static void Write(TextWriter w, RunResult result)
    {
        var r = result.Report;
        var output = r.Output;
        w.WriteLine($"wrote {result.OutputDirectory}");
        foreach (var f in result.Files) w.WriteLine($"  {Path.GetFileName(f)}");
        if (r.Headline is { } h) w.WriteLine($"result  {h.Text}");
        w.WriteLine($"input   {N(r.Input.Bytes)} bytes, {N(r.Input.Parameters)} parameters");
        w.WriteLine($"output  {N(output.BytesOnDisk)} bytes on disk ({N(output.TheoreticalBytes)} theoretical), {BitsPhrase(r)}");
        if (output.Onnx is { } onnx && r.Verification is { } v) OnnxSummary.Write(w, onnx, v);
        var evaluated = r.EvaluatedMetrics().ToList();
        if (r.Evaluation is { } e && evaluated.Count > 0)
        {
            w.WriteLine($"eval    {e.Dataset}, {e.SamplesText()}, on ONNX Runtime {e.Runtime.OptimizationLevel}, {N(e.Runtime.IntraOpThreads)} intra-op threads (reference: the input model)");
            TextTable.Write(w, ["METRIC", "VALUE", "REFERENCE", "UNIT"],
                evaluated.Select(m => new[] { m.Name, ReportTables.Text(m.Value), ReportTables.Text(m.Reference), m.Unit }).ToList());
        }
        if (r.Sizes is { } sizes)
        {
            TextTable.Write(w, [$"SIZE OF {sizes.File}", "BYTES", "SHARE"],
                sizes.Parts().Select(p => new[] { p.Part, Headline.Bytes(p.Bytes), Share(p.Bytes, sizes.TotalBytes) }).ToList());
            foreach (var l in sizes.Fp32Layers.Take(Fp32LayersShown))
                w.WriteLine($"float32 {Console.TerminalText.Cell(l.Name, 160)} ({l.Type}, {Headline.Bytes(l.Bytes)}): {l.Hint}");
            if (sizes.Fp32Layers.Count > Fp32LayersShown)
                w.WriteLine($"float32 … and {sizes.Fp32Layers.Count - Fp32LayersShown} smaller layers (report.json: sizes.fp32Layers)");
        }
        if (r.Timings.Count > 0)
            w.WriteLine("time    " + string.Join(", ", r.Timings.Select(t => $"{t.Key} {t.Value.ToString("F1", CultureInfo.InvariantCulture)} s")));
        foreach (var warning in r.Warnings) w.WriteLine($"warning: {Console.TerminalText.Cell(warning, 4000)}");
        if (r.Layers.Count > 0)
        {
            TextTable.Write(w, ["LAYER", "KIND", "SHAPE", "BITS/W", "SQNR dB"], r.Layers.Select(l => new[]
            {
                Console.TerminalText.Cell(l.Name, 160), Console.TerminalText.Cell(l.Kind, 64), string.Join("x", l.Shape), l.BitsText(), l.SqnrDb?.ToString("F2", CultureInfo.InvariantCulture) ?? "inf",
            }).ToList());
        }
    }

    /// <summary>"5.008 bits per compressed weight", or, when every compressed layer stores float factors, what they are.</summary>
    public static string BitsPhrase(RunReport r)
    {
        if (r.Output.BitsPerWeight is not { } bits) return "no compressed layers";
        string b = bits.ToString(CultureInfo.InvariantCulture);
        var layers = r.Layers;
        if (layers.Count > 0 && layers.All(l => l.ValueBits is not null))
        {
            int vb = layers[0].ValueBits!.Value;
            double weights = layers.Sum(l => l.Shape.Aggregate(1.0, (a, x) => a * x));
            double kept = layers.Sum(l => l.StoredShare!.Value * l.Shape.Aggregate(1.0, (a, x) => a * x)) / weights;
            if (layers.All(l => l.ValueBits == vb))
                return $"no quantized weights: fp{vb} factors keep {(100 * kept).ToString("F1", CultureInfo.InvariantCulture)} % of the replaced weights ({b} bits per replaced weight)";
        }
        return $"{b} bits per compressed weight";
    }

    private static string Share(long part, long total) => total <= 0 ? "-" : (100.0 * part / total).ToString("F1", CultureInfo.InvariantCulture) + " %";

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
