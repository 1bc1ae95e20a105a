using System.Globalization;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Commands;

/// <summary>The text lines that summarise an exported, verified ONNX model (for <c>run</c> and <c>export</c>).</summary>
public static class OnnxSummary
{
    /// <summary>Writes the ONNX size line and the verification line.</summary>
    public static void Write(TextWriter writer, JObject onnx, JObject verification)
    {
        static string F(JToken? t, string format) => t is null || t.Type == JTokenType.Null ? "inf" : ((double)t).ToString(format, CultureInfo.InvariantCulture);
        writer.WriteLine($"onnx    {onnx["file"]}: {onnx["bytesOnDisk"]} bytes on disk ({onnx["theoreticalBytes"]} theoretical), opset {onnx["opset"]}, " +
                         $"{(onnx["bitsPerWeight"]?.Type == JTokenType.Null ? "no compressed layers" : $"{onnx["bitsPerWeight"]} bits per compressed weight")}");
        var optimized = (JObject)verification["optimized"]!;
        var fused = ((JObject)verification["fusedKernelCounts"]!).Properties().Select(p => $"{p.Name} ({p.Value})").ToList();
        writer.WriteLine($"verify  ONNX Runtime {verification["ortVersion"]}: loads, max abs error {F(verification["maxAbsError"], "G3")} " +
                         $"(SQNR {F(verification["sqnrDb"], "F1")} dB) at {verification["optimizationLevel"]}; {F(optimized["maxAbsError"], "G3")} " +
                         $"({F(optimized["sqnrDb"], "F1")} dB) at {optimized["optimizationLevel"]}; fused: {(fused.Count == 0 ? "none" : string.Join(", ", fused))}");
    }
}
