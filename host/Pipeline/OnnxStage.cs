using Compressor.Sdk.Compression;
using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx.Export;
using Compressor.Sdk.Onnx.Verification;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>Exports a model to ONNX and runs the verification gate (shared by <c>compress run</c> and
/// <c>compress export</c>), and turns the results into the report's <c>output.onnx</c> and <c>verification</c>
/// objects. A failed gate throws (exit code 7), so the caller's staging leaves no output behind.</summary>
public static class OnnxStage
{
    /// <summary>The ONNX file name <c>compress run</c> writes.</summary>
    public const string FileName = "model.onnx";

    /// <summary>What the stage produced.</summary>
    public sealed record Result(OnnxExportResult Export, VerificationResult Verification, JObject Output, JObject VerificationJson);

    /// <summary>Whether <paramref name="model"/> can be exported (an executable architecture that emits its graph).</summary>
    public static bool CanExport(CompressibleModel model) => model.IsExecutable && model.Module is IOnnxExportableModel;

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> and verifies it.</summary>
    /// <exception cref="Sdk.CompressException">Export impossible, or the gate failed (kind VerificationFailed).</exception>
    public static Result Run(CompressibleModel model, string path, int? opset)
    {
        var export = OnnxExporter.Export(model, path, new OnnxExportOptions { Opset = opset });
        var verification = OnnxVerifier.Verify(model, export);
        verification.EnsurePassed();
        return new Result(export, verification, OutputJson(model, export), VerificationJson(verification));
    }

    private static JObject OutputJson(CompressibleModel model, OnnxExportResult export)
    {
        long weights = 0, weightBytes = 0;
        foreach (var (_, m) in model.NamedModules())
            if (m is ICompressedLayer c)
            {
                weights += c.DenseWeightShape.Aggregate(1L, (a, b) => a * b);
                weightBytes += (c.WeightStorageBits + 7) / 8;
            }
        // Compressed layers' initializers hold their weight representation plus their float32 bias; theory counts both.
        long biasBytes = export.CompressedTheoreticalBytes - weightBytes;
        long otherBytes = export.InitializerBytes.Where(kv => !export.CompressedLayers.Any(l => l.Initializers.Contains(kv.Key))).Sum(kv => kv.Value);
        return new JObject
        {
            ["file"] = Path.GetFileName(export.ModelPath),
            ["externalData"] = export.ExternalDataPath is null ? null : Path.GetFileName(export.ExternalDataPath),
            ["sha256"] = export.Sha256,
            ["bytesOnDisk"] = export.BytesOnDisk,
            ["theoreticalBytes"] = export.CompressedTheoreticalBytes + otherBytes,
            ["compressedTensorBytes"] = export.CompressedTensorBytes,
            ["compressedTheoreticalBytes"] = export.CompressedTheoreticalBytes,
            ["bitsPerWeight"] = weights == 0 ? null : Math.Round((double)(export.CompressedTensorBytes - biasBytes) * 8 / weights, 4),
            ["opset"] = export.Opset,
            ["irVersion"] = export.IrVersion,
        };
    }

    private static JObject VerificationJson(VerificationResult v) => new()
    {
        ["ortVersion"] = v.OrtVersion,
        ["opset"] = v.Opset,
        ["optimizationLevel"] = v.OptimizationLevel,
        ["optimizationLevelReason"] = "ORT_ENABLE_BASIC applies only exact rewrites; EXTENDED/ALL fuse DQ→MatMul into MatMulNBits and int8 weights into integer matmuls, which are less exact (reported below, gated loosely)",
        ["loads"] = v.Loads,
        ["maxAbsError"] = Num(v.MaxAbsError),
        ["sqnrDb"] = Num(v.SqnrDb),
        ["optimized"] = new JObject
        {
            ["optimizationLevel"] = "ORT_ENABLE_ALL",
            ["maxAbsError"] = Num(v.OptimizedMaxAbsError),
            ["sqnrDb"] = Num(v.OptimizedSqnrDb),
        },
        ["compatible"] = v.Compatible,
        ["fusedKernels"] = new JArray(v.FusedKernels),
        ["fusedKernelCounts"] = new JObject(v.FusedKernels.Select(k => new JProperty(k, v.FusedKernelCounts[k]))),
        ["layers"] = new JArray(v.Layers.Select(l => new JObject
        {
            ["name"] = l.Layer, ["kind"] = l.Kind, ["bytes"] = l.Bytes, ["theoreticalBytes"] = l.TheoreticalBytes, ["ratio"] = Num(l.Ratio),
        })),
        ["layerOutputs"] = new JArray(v.LayerOutputs.Select(l => new JObject
        {
            ["name"] = l.Layer, ["maxAbsError"] = Num(l.MaxAbsError), ["sqnrDb"] = Num(l.SqnrDb),
        })),
        ["passed"] = v.Passed,
    };

    private static JToken Num(double v) => double.IsFinite(v) ? new JValue(Math.Round(v, 9)) : JValue.CreateNull();
}
