namespace Compressor.Engine.Onnx.Verification;

/// <summary>What the verification gate found for one exported model.</summary>
/// <param name="OrtVersion">The ONNX Runtime that ran it.</param>
/// <param name="Opset">The model's <c>ai.onnx</c> opset.</param>
/// <param name="OptimizationLevel">The ORT graph optimisation level of the parity check (<see cref="OnnxVerifier.ParityLevel"/>).</param>
/// <param name="Loads">Whether ORT created a session.</param>
/// <param name="MaxAbsError">Max |ORT − TorchSharp| of the final output at that level.</param>
/// <param name="SqnrDb">SQNR of the ORT output against TorchSharp's, dB (∞ when identical).</param>
/// <param name="OptimizedMaxAbsError">The same at ORT_ENABLE_ALL (fused kernels, less exact), or NaN when not run.</param>
/// <param name="OptimizedSqnrDb">SQNR at ORT_ENABLE_ALL, or NaN when not run.</param>
/// <param name="Compatible">Whether every op/type/opset is in the ORT 1.31 CPU table.</param>
/// <param name="FusedKernels">Operators in ORT_ENABLE_ALL's optimised graph that the exported graph does not have
/// (e.g. <c>com.microsoft.MatMulNBits</c>), sorted.</param>
/// <param name="FusedKernelCounts">How many nodes of each fused kernel the optimised graph has.</param>
/// <param name="Layers">Per compressed layer: bytes in the file vs theory.</param>
/// <param name="LayerOutputs">Per compressed layer: its output in ORT (ORT_ENABLE_BASIC, through a copy of the graph
/// that also outputs the intermediate values) against TorchSharp's (captured with forward hooks). Empty for models
/// with external data.</param>
/// <param name="Failures">Why the gate failed (empty: passed).</param>
public sealed record VerificationResult(
    string OrtVersion,
    int Opset,
    string OptimizationLevel,
    bool Loads,
    double MaxAbsError,
    double SqnrDb,
    double OptimizedMaxAbsError,
    double OptimizedSqnrDb,
    bool Compatible,
    IReadOnlyList<string> FusedKernels,
    IReadOnlyDictionary<string, int> FusedKernelCounts,
    IReadOnlyList<LayerSizeCheck> Layers,
    IReadOnlyList<LayerParity> LayerOutputs,
    IReadOnlyList<string> Failures)
{
    /// <summary>Per compressed layer, the kernels ORT_ENABLE_ALL ran it on (empty when the optimised graph was not
    /// read: <see cref="VerificationOptions.DetectFusedKernels"/> off, or ORT could not run the model).</summary>
    public IReadOnlyList<LayerKernel> LayerKernels { get; init; } = [];

    /// <summary>Per compressed layer and graph output, teacher-forced (each computed in ORT at ORT_ENABLE_BASIC from
    /// TorchSharp's values of the other compressed layers' outputs: see <see cref="VerificationOptions.MinimumTeacherForcedSqnrDb"/>);
    /// empty unless the export quantizes activations for size.</summary>
    public IReadOnlyList<LayerParity> TeacherForcedOutputs { get; init; } = [];

    /// <summary>The same at ORT_ENABLE_ALL (empty when not run).</summary>
    public IReadOnlyList<LayerParity> OptimizedTeacherForcedOutputs { get; init; } = [];

    /// <summary>The lowest teacher-forced SQNR at ORT_ENABLE_BASIC, or NaN when not measured.</summary>
    public double TeacherForcedSqnrDb => TeacherForcedOutputs.Count == 0 ? double.NaN : TeacherForcedOutputs.Min(p => p.SqnrDb);

    /// <summary>What the export was optimised for.</summary>
    public Compressor.Sdk.Layers.ExportTarget Target { get; init; }

    /// <summary>The layers that still run a float product at ORT_ENABLE_ALL although the export targets speed.</summary>
    public IReadOnlyList<string> FallbackLayers => Target == Compressor.Sdk.Layers.ExportTarget.Speed
        ? LayerKernels.Where(k => k.Form == LayerKernel.Float).Select(k => k.Layer).ToList() : [];

    /// <summary>Whether every check passed.</summary>
    public bool Passed => Failures.Count == 0;

    /// <summary>Throws when a check failed.</summary>
    /// <exception cref="CompressException">Kind <see cref="ErrorKind.VerificationFailed"/>, naming the failures.</exception>
    public void EnsurePassed()
    {
        if (!Passed) throw new CompressException(ErrorKind.VerificationFailed, $"verification of the ONNX model failed: {string.Join("; ", Failures)}");
    }
}
