namespace Compressor.Engine.Onnx.Verification;

/// <summary>Thresholds and choices of the verification gate (<see cref="OnnxVerifier"/>).</summary>
public sealed record VerificationOptions
{
    /// <summary>Seed of the sample inputs (N(0, 1) floats at the inputs' example shapes).</summary>
    public int Seed { get; init; }

    /// <summary>The final output's SQNR (ORT at <see cref="OnnxVerifier.ParityLevel"/> vs TorchSharp) must reach this many dB.
    /// Exact lowerings reach 100+ dB (float32 summation order only); 40 dB flags a wrong lowering at once.</summary>
    public double MinimumSqnrDb { get; init; } = 40;

    /// <summary>The floor of the teacher-forced parity (<see cref="TeacherForcedParity"/>) that gates a size export whose
    /// graph quantizes activations, in place of the free-running <see cref="MinimumSqnrDb"/> (reported, not gated) and,
    /// at ORT_ENABLE_ALL, of <see cref="MinimumOptimizedSqnrDb"/> (which then gates the teacher-forced values). Each
    /// compressed layer and graph output is computed in ORT from TorchSharp's own outputs of the other compressed layers,
    /// so a code flip (ORT's QuantizeLinear rounds exactly as TorchSharp on equal inputs, but the float inputs differ by
    /// summation order) stays in its layer. Measured (bench/README.md, "ONNX parity of activation-quantized exports"):
    /// an untrained StatsQ W4A4 QKR DeiT-S (12 blocks, 224², the gate's 4 random images) has 0 rounding differences in
    /// 62.6 M QuantizeLinear codes, teacher-forced layers at 121.7–133.6 dB, free-running layers falling from 133 dB to
    /// 59.5 dB at the first flip (blocks.1.mlp.fc1) and 12.7 dB at the output; trained (bench/hf-folders deit-statsq),
    /// free-running 20.4 dB and teacher-forced 126–133 dB but for 4 of 38 layers at 57.1–61.8 dB (one flip between a
    /// layer's own chained quantizers costs ≈ 60 dB there); a flip forced in a 3-block test ViT
    /// takes its free-running output to 28.4 dB while every teacher-forced layer stays ≥ 136 dB; a 5% wrong activation
    /// scale in the file fails. So the exact-lowering floor, 40 dB, applies teacher-forced.</summary>
    public double MinimumTeacherForcedSqnrDb { get; init; } = 40;

    /// <summary>The final output's SQNR at ORT_ENABLE_ALL (ORT's default level, fused kernels) must reach this many dB.
    /// Fused low-bit kernels measure 42–53 dB here (they accumulate less exactly), so this floor is loose: it catches a
    /// model that ORT's optimiser breaks (as its int2 MatMulNBits fusion did for rows not aligned to bytes).</summary>
    public double MinimumOptimizedSqnrDb { get; init; } = 20;

    /// <summary>The floor of a speed export's parity (at ORT_ENABLE_BASIC, where its integer operators already compute in
    /// integers, and at ORT_ENABLE_ALL; per layer and final output), in place of <see cref="MinimumSqnrDb"/> and
    /// <see cref="MinimumOptimizedSqnrDb"/>. ORT's integer kernels compute the same codes as the model's fake
    /// quantization, but sum them in int32 and scale once, where TorchSharp sums dequantized float products: an input
    /// within float rounding of a rounding boundary takes the other code, the flip is one whole step downstream, and
    /// flips compound layer after layer and spread across tokens through attention. A single integer layer matches to
    /// 135 dB (tests); whole models measured, with the gate's random inputs: 136–140 dB for the 2-block StatsQ test ViTs
    /// (4-bit steps rarely flip), 18.9–27 dB for MiniLM W8A8 (6 post-norm blocks, 8-bit steps, static and dynamic
    /// activations; bench/README.md) — as far from TorchSharp as int8 noise is from FP32, and with the same quality
    /// against FP32 on real sentences. A wrong scale, zero point or axis measures below 10 dB (a misplaced DQ axis: 9.6
    /// dB). So 15 dB.</summary>
    public double MinimumIntegerSqnrDb { get; init; } = 15;

    /// <summary>The floor of each compressed layer's output parity in a speed export (the final output keeps
    /// <see cref="MinimumIntegerSqnrDb"/>). A layer's output inside the model carries every code flip upstream of it
    /// without the averaging the last layers do: MiniLM W8A8 static measured 14.2–14.7 dB at
    /// <c>encoder.layer.4.attention.output.dense</c> while its final output measured 17.9–18.9 dB and its sentence
    /// embeddings kept cosine 0.99 against FP32 (bench/README.md, int8). A wrong scale, zero point or axis still measures
    /// below 10 dB. So 12 dB.</summary>
    public double MinimumIntegerLayerSqnrDb { get; init; } = 12;

    /// <summary>Each compressed layer's tensors may take at most this factor of the theoretical bytes (1.02: 2% above).</summary>
    public double MaximumSizeRatio { get; init; } = 1.02;

    /// <summary>Also run ORT_ENABLE_ALL, save its optimised graph and list the kernels it fused (MatMulNBits, …).</summary>
    public bool DetectFusedKernels { get; init; } = true;
}
