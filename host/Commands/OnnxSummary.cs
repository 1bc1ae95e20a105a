using System.Globalization;
using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary>The text lines that summarise an exported, verified ONNX model (for <c>run</c> and <c>export</c>).</summary>
public static class OnnxSummary
{
    /// <summary>Writes the ONNX size line and the verification line.</summary>
    public static void Write(TextWriter writer, OnnxOutput onnx, OnnxVerification verification)
    {
        static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "inf";
        writer.WriteLine($"onnx    {onnx.File}: {N(onnx.BytesOnDisk)} bytes on disk ({N(onnx.TheoreticalBytes)} theoretical), opset {N(onnx.Opset)}, " +
                         $"{(onnx.BitsPerWeight is { } bits ? $"{bits.ToString(CultureInfo.InvariantCulture)} bits per compressed weight" : "no compressed layers")}");
        var optimized = verification.Optimized;
        var fused = verification.FusedKernelCounts.Select(p => $"{p.Key} ({N(p.Value)})").ToList();
        writer.WriteLine($"verify  ONNX Runtime {verification.OrtVersion}: loads, max abs error {F(verification.MaxAbsError, "G3")} " +
                         $"(SQNR {F(verification.SqnrDb, "F1")} dB) at {verification.OptimizationLevel}; {F(optimized.MaxAbsError, "G3")} " +
                         $"({F(optimized.SqnrDb, "F1")} dB) at {optimized.OptimizationLevel}; fused: {(fused.Count == 0 ? "none" : string.Join(", ", fused))}");
        if (verification.LayerKernels.Count > 0)
        {
            var forms = verification.LayerKernels.GroupBy(k => k.Form).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {N(g.Count())}");
            writer.WriteLine($"kernels target {verification.Target}: compressed layers on {string.Join(", ", forms)}" +
                             (verification.FallbackLayers.Count > 0 ? $"; fell back to float: {string.Join(", ", verification.FallbackLayers)}" : ""));
        }
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
