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

    /// <summary>The floor that replaces <see cref="MinimumOptimizedSqnrDb"/> for exports that target speed, whose layers
    /// run on ORT's integer kernels at ORT_ENABLE_ALL. Those kernels compute the same integer codes as the model's fake
    /// quantization, but sum in int32 and scale once at the end, where TorchSharp sums dequantized float products: an
    /// activation that lands within float rounding of a rounding boundary of the next quantizer takes the other code,
    /// and every such flip is one whole quantization step downstream. Measured on the exports of the tests and of
    /// bench/OrtLatency (W8A8: 33–55 dB; W4A4 ViTs: 20–31 dB, where one step is 1/16 of the range), so 18 dB:
    /// above the 10 dB of a wrong layout or a misplaced axis, below every correct export measured.</summary>
    public double MinimumIntegerSqnrDb { get; init; } = 18;

    /// <summary>Each compressed layer's tensors may take at most this factor of the theoretical bytes (1.02: 2% above).</summary>
    public double MaximumSizeRatio { get; init; } = 1.02;

    /// <summary>Also run ORT_ENABLE_ALL, save its optimised graph and list the kernels it fused (MatMulNBits, …).</summary>
    public bool DetectFusedKernels { get; init; } = true;
}
