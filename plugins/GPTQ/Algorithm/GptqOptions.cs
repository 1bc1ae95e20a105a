using Compressor.Sdk.Options;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Options of the <c>gptq</c> plugin. <c>--weight-bits</c>, <c>--group-size</c> and <c>--scheme</c> mean what
/// they mean for <c>rtn</c>; the rest are GPTQ's and AWQ's knobs with the reference implementations' defaults (README).</summary>
public sealed record GptqOptions : PluginOptions
{
    /// <summary>Bits per weight code.</summary>
    [Option("Bits per weight code; 3, 5, 6 and 7 are packed densely (exactly b bits per weight in the checkpoint and the ONNX file).", Choices = ["2", "3", "4", "5", "6", "7", "8"])]
    public int WeightBits { get; init; } = 4;

    /// <summary>Weights per scale along each output row; 0 means one scale per output channel.</summary>
    [Option("Weights sharing one scale along each output row (input dimension); 0 = one scale per output channel. Powers of two from 16 to 256 let ONNX Runtime fuse 4-bit MatMuls.", Min = 0, Max = 1 << 20)]
    public int GroupSize { get; init; } = 128;

    /// <summary>Symmetric (signed, no zero point) or asymmetric (unsigned with zero point).</summary>
    [Option("Grid placement: symmetric (signed codes, no zero point) or asymmetric (unsigned codes with a zero point).")]
    public QuantScheme Scheme { get; init; } = QuantScheme.Asymmetric;

    /// <summary>Quantize columns in order of decreasing Hessian diagonal, with static groups.</summary>
    [Option("Quantize the columns in order of decreasing activation energy (diag H) — GPTQ's act-order — with static groups: each group's scale is computed from the original weights before any update, so the exported groups stay contiguous.")]
    public bool ActOrder { get; init; }

    /// <summary>Dampening λ: H += λ·mean(diag H)·I.</summary>
    [Option("Dampening λ added to the Hessian's diagonal as λ·mean(diag H) (GPTQ's percdamp).", Min = 0, Max = 10)]
    public double Damp { get; init; } = 0.01;

    /// <summary>The largest dampening tried when the Cholesky factorisation fails.</summary>
    [Option("When the Cholesky factorisation of a layer's Hessian fails, the dampening is multiplied by 10 (with a warning naming the layer) up to this cap; past it the run stops (exit 5).", Min = 0, Max = 100)]
    public double MaxDamp { get; init; } = 1.0;

    /// <summary>Columns per lazy batch update.</summary>
    [Option("Columns per lazy batch: errors are fed back inside a block of this many columns at once and to the rest in one matrix product (GPTQ's blocksize).", Min = 1, Max = 65536)]
    public int BlockSize { get; init; } = 128;

    /// <summary>How codes are chosen.</summary>
    [Option("gptq: second-order error feedback (GPTQ); nearest: round to nearest on the same grid (with --awq, AWQ as published).")]
    public Rounding Rounding { get; init; } = Rounding.Gptq;

    /// <summary>Activation-aware scaling before rounding.</summary>
    [Option("Activation-aware weight quantization (AWQ) first: per input channel scales s = mean|x|^α searched on a grid, folded into the preceding layer or normalisation where that provably leaves the model unchanged, then a per-group clipping search.")]
    public bool Awq { get; init; }

    /// <summary>Grid points of AWQ's α search.</summary>
    [Option("Points of AWQ's α grid over [0, 1) (the reference's n_grid).", Min = 1, Max = 1000)]
    public int AwqGrid { get; init; } = 20;

    /// <summary>AWQ's per-group clipping search.</summary>
    [Option("With --awq, when to search per group a clipping of max|w| that minimises the group's output error (AWQ's auto-clip): auto (with --rounding nearest only: before GPTQ it took away the weights GPTQ's feedback aims at and lowered MiniLM's cosine), on, off.")]
    public ClipMode AwqClip { get; init; } = ClipMode.Auto;

    /// <summary>Whether AWQ's clipping runs under these options.</summary>
    public bool ClipsWithAwq() => Awq && (AwqClip == ClipMode.On || (AwqClip == ClipMode.Auto && Rounding == Rounding.Nearest));

    /// <summary>Input rows used by AWQ's searches.</summary>
    [Option("Input rows (tokens or conv patches, sampled with the seed) each AWQ search evaluates the output error on.", Min = 16, Max = 1 << 20)]
    public int AwqRows { get; init; } = 4096;

    /// <summary>Hessians of a block's later layers from the already quantized earlier ones.</summary>
    [Option("Inside a block, collect each layer's Hessian from the outputs of the block's already quantized earlier layers (true sequential); false: all of a block's Hessians from one pass.")]
    public bool TrueSequential { get; init; } = true;

    /// <summary>Calibration samples.</summary>
    [Option("Calibration samples (unlabelled) drawn from the calibration data.", Min = 1, Max = 100000)]
    public int CalibrationSamples { get; init; } = 128;

    /// <summary>Samples per calibration forward.</summary>
    [Option("Samples per calibration forward pass.", Min = 1, Max = 4096)]
    public int BatchSize { get; init; } = 32;

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        if (MaxDamp < Damp) yield return "--max-damp must be at least --damp";
        if (Rounding == Rounding.Nearest && ActOrder) yield return "--act-order only changes --rounding gptq";
    }
}
