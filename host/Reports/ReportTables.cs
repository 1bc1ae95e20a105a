using System.Globalization;
using Compressor.Host.Results;

namespace Compressor.Host.Reports;

/// <summary>The tables of a report for people, read from the typed report: the run, output sizes, ONNX verification,
/// metrics (with the reference model's values), per-layer rows, timings and warnings.</summary>
public static class ReportTables
{
    /// <summary>The tables of <paramref name="report"/>, in reading order (empty sections are left out).</summary>
    public static IReadOnlyList<ReportTable> Build(RunReport report)
    {
        var tables = new List<ReportTable>();
        var input = report.Input;
        List<string[]> run =
        [
            ["tool", $"{report.Tool.Name} {report.Tool.Version} (SDK {report.Tool.SdkVersion})"],
            ["input", input.Path],
            ["input size", $"{Integer(input.Bytes)} bytes, {Integer(input.Parameters)} parameters"],
            ["seed", Integer(report.Seed)],
        ];
        foreach (var s in report.Steps)
            run.Add(["step", $"{s.Plugin} {s.Version} {s.Options.ToString(Newtonsoft.Json.Formatting.None)}"]);
        tables.Add(new ReportTable("Run", ["", ""], run));

        var output = report.Output;
        List<string[]> rows =
        [
            ["checkpoint", output.Checkpoint, Integer(output.BytesOnDisk), Integer(output.TheoreticalBytes), Text(output.BitsPerWeight)],
        ];
        if (output.Onnx is { } onnx)
            rows.Add([onnx.File, $"opset {Integer(onnx.Opset)}", Integer(onnx.BytesOnDisk), Integer(onnx.TheoreticalBytes), Text(onnx.BitsPerWeight)]);
        tables.Add(new ReportTable("Output", ["kind", "file", "bytes on disk", "theoretical bytes", "bits per compressed weight"], rows));

        if (report.Sizes is { } sizes)
        {
            tables.Add(new ReportTable(SizeTitle, ["part", "bytes", "share"],
                sizes.Parts().Select(p => new[] { p.Part, $"{Integer(p.Bytes)} ({Headline.Bytes(p.Bytes)})", Share(p.Bytes, sizes.TotalBytes) }).ToList(),
                $"Where the {Integer(sizes.TotalBytes)} bytes of {sizes.File} are: the compressed layers' tensors (their biases included), the weight-bearing " +
                "layers no step compressed, every other tensor, and the file's own structure (graph, names, framing)."));
            if (sizes.Fp32Layers.Count > 0)
                tables.Add(new ReportTable(Fp32Title, ["layer", "type", "parameters", "bytes", "why, and what would compress it"],
                    sizes.Fp32Layers.Select(l => new[] { l.Name, l.Type, Integer(l.Parameters), $"{Integer(l.Bytes)} ({Headline.Bytes(l.Bytes)})", l.Hint }).ToList()));
        }

        if (report.Verification is { } v)
            tables.Add(new ReportTable("ONNX verification", ["check", "result"],
            [
                ["passed", v.Passed ? "True" : "False"],
                ["ONNX Runtime", v.OrtVersion],
                [$"parity at {v.OptimizationLevel}", $"SQNR {Text(v.SqnrDb)} dB, max |error| {Text(v.MaxAbsError)}"],
                [$"parity at {v.Optimized.OptimizationLevel}", $"SQNR {Text(v.Optimized.SqnrDb)} dB, max |error| {Text(v.Optimized.MaxAbsError)}"],
                ["fused kernels", string.Join(", ", v.FusedKernels)],
            ]));

        if (report.Metrics.Count > 0)
        {
            string? note = null;
            if (report.Evaluation is { Runtime: var rt } e)
                note = $"Measured on {e.Dataset}, {e.SamplesText()}, on ONNX Runtime {rt.OrtVersion} at {rt.OptimizationLevel} with {Integer(rt.IntraOpThreads)} intra-op threads; latency of one batch of " +
                       $"{Integer(rt.BatchSize)} over {Integer(rt.Runs)} runs after {Integer(rt.WarmupRuns)} warm-up runs; peak memory by {rt.PeakMemoryMethod} " +
                       "(peak resident memory added by creating the session and running one batch). The reference is the input model, measured in the same run" +
                       (e.SpeedUp is { } su ? $"; model and reference were timed in interleaved runs: {su.Describe()}." : ".");
            tables.Add(new ReportTable("Metrics", ["metric", "value", "reference", "unit", "dataset"],
                report.Metrics.Select(m => new[] { m.Name, Text(m.Value), Text(m.Reference), m.Unit, m.Dataset ?? "" }).ToList(), note));
        }

        if (report.Layers.Count > 0)
            tables.Add(new ReportTable("Layers", ["layer", "kind", "shape", "bits/weight", "SQNR dB", "bytes"],
                report.Layers.Select(l => new[]
                {
                    l.Name, l.Kind, string.Join("×", l.Shape), l.BitsText(), l.SqnrDb is null ? "∞ (exact)" : Text(l.SqnrDb), Integer(l.Bytes),
                }).ToList()));

        if (report.Timings.Count > 0)
            tables.Add(new ReportTable("Timings", ["stage", "seconds"], report.Timings.Select(p => new[] { p.Key, Text(p.Value) }).ToList()));

        if (report.Warnings.Count > 0)
            tables.Add(new ReportTable("Warnings", ["warning"], report.Warnings.Select(w => new[] { w }).ToList()));
        return tables;
    }

    /// <summary>The title of the size breakdown table.</summary>
    public const string SizeTitle = "Size breakdown";

    /// <summary>The title of the table of layers left in float32.</summary>
    public const string Fp32Title = "Layers left in float32";

    /// <summary>The notes on series not plotted because they are constant.</summary>
    public static IEnumerable<string> ConstantSeries(RunReport report) =>
        report.Series.Select(s => (s, v: ReportPlots.Constant(s))).Where(p => p.v is not null)
            .Select(p => $"{p.s.Name} is constant at {Text(p.v)} over {p.s.Y.Count(y => y is not null)} points ({p.s.YLabel} per {p.s.XLabel}): not plotted.");

    private static string Share(long part, long total) => total <= 0 ? "-" : (100.0 * part / total).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    /// <summary>A number in short invariant form (6 significant digits), "-" for null.</summary>
    public static string Text(double? value) => value is { } v ? v.ToString("G6", CultureInfo.InvariantCulture) : "-";

    private static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);
}
