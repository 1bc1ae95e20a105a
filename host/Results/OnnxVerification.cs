using Compressor.Engine.Onnx.Verification;

namespace Compressor.Host.Results;

/// <summary>report.json's <c>verification</c> (and <c>compress export --format json</c>'s): what the verification gate
/// found (<see cref="OnnxVerifier"/>).</summary>
public sealed record OnnxVerification(
    string OrtVersion,
    int Opset,
    string OptimizationLevel,
    string OptimizationLevelReason,
    bool Loads,
    double? MaxAbsError,
    double? SqnrDb,
    OptimizedParity Optimized,
    bool Compatible,
    IReadOnlyList<string> FusedKernels,
    IReadOnlyDictionary<string, int> FusedKernelCounts,
    IReadOnlyList<LayerBytes> Layers,
    IReadOnlyList<LayerOutputParity> LayerOutputs,
    bool Passed)
{
    /// <summary>What the export was optimised for: <c>size</c> or <c>speed</c> (<c>--target</c>).</summary>
    public string Target { get; init; } = "size";

    /// <summary>Per compressed layer, the kernels ORT_ENABLE_ALL ran it on.</summary>
    public IReadOnlyList<LayerKernelResult> LayerKernels { get; init; } = [];

    /// <summary>With <c>--target speed</c>: the layers that still run a float product (fell back).</summary>
    public IReadOnlyList<string> FallbackLayers { get; init; } = [];

    /// <summary>For a size export that quantizes activations: the lowest teacher-forced SQNR (each compressed layer and
    /// graph output computed in ORT from TorchSharp's outputs of the other compressed layers), the gated parity; null
    /// otherwise (then <see cref="SqnrDb"/> is gated).</summary>
    public double? TeacherForcedSqnrDb { get; init; }

    /// <summary>The teacher-forced parity of each compressed layer and graph output (empty when not measured).</summary>
    public IReadOnlyList<LayerOutputParity> TeacherForcedOutputs { get; init; } = [];

    /// <summary>Why parity is gated at ORT_ENABLE_BASIC (written with every report).</summary>
    public const string BasicLevelReason = "ORT_ENABLE_BASIC applies only exact rewrites; EXTENDED/ALL fuse DQ→MatMul into MatMulNBits and int8 weights into integer matmuls, which are less exact (reported below, gated loosely)";

    /// <summary>The report form of <paramref name="v"/> (errors and SQNRs to 9 decimals, non-finite as null).</summary>
    public static OnnxVerification Of(VerificationResult v)
    {
        static double? N(double x) => ReportNumber.Of(x, ReportNumber.VerificationDecimals);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var k in v.FusedKernels) counts[k] = v.FusedKernelCounts[k];
        return new OnnxVerification(v.OrtVersion, v.Opset, v.OptimizationLevel, BasicLevelReason, v.Loads, N(v.MaxAbsError), N(v.SqnrDb),
            new OptimizedParity("ORT_ENABLE_ALL", N(v.OptimizedMaxAbsError), N(v.OptimizedSqnrDb)), v.Compatible, [.. v.FusedKernels], counts,
            [.. v.Layers.Select(l => new LayerBytes(l.Layer, l.Kind, l.Bytes, l.TheoreticalBytes, N(l.Ratio)))],
            [.. v.LayerOutputs.Select(l => new LayerOutputParity(l.Layer, N(l.MaxAbsError), N(l.SqnrDb)))],
            v.Passed)
        {
            Target = v.Target.ToString().ToLowerInvariant(),
            LayerKernels = [.. v.LayerKernels.Select(k => new LayerKernelResult(k.Layer, k.Kind, k.Form, k.Kernels))],
            FallbackLayers = v.FallbackLayers,
            TeacherForcedSqnrDb = N(v.TeacherForcedSqnrDb),
            TeacherForcedOutputs = [.. v.TeacherForcedOutputs.Select(l => new LayerOutputParity(l.Layer, N(l.MaxAbsError), N(l.SqnrDb)))],
        };
    }
}
