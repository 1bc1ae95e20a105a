namespace Compressor.Engine.Onnx.Verification;

/// <summary>Thresholds and choices of the verification gate (<see cref="OnnxVerifier"/>).</summary>
public sealed record VerificationOptions
{
    /// <summary>Seed of the sample inputs (N(0, 1) floats at the inputs' example shapes).</summary>
    public int Seed { get; init; }

    /// <summary>The final output's SQNR (ORT at <see cref="OnnxVerifier.ParityLevel"/> vs TorchSharp) must reach this many dB.
    /// Exact lowerings reach 100+ dB (float32 summation order only); 40 dB flags a wrong lowering at once.</summary>
    public double MinimumSqnrDb { get; init; } = 40;

    /// <summary>The final output's SQNR at ORT_ENABLE_ALL (ORT's default level, fused kernels) must reach this many dB.
    /// Fused low-bit kernels measure 42–53 dB here (they accumulate less exactly), so this floor is loose: it catches a
    /// model that ORT's optimiser breaks (as its int2 MatMulNBits fusion did for rows not aligned to bytes).</summary>
    public double MinimumOptimizedSqnrDb { get; init; } = 20;

    /// <summary>Each compressed layer's tensors may take at most this factor of the theoretical bytes (1.02: 2% above).</summary>
    public double MaximumSizeRatio { get; init; } = 1.02;

    /// <summary>Also run ORT_ENABLE_ALL, save its optimised graph and list the kernels it fused (MatMulNBits, …).</summary>
    public bool DetectFusedKernels { get; init; } = true;
}
