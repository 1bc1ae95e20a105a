using Compressor.Sdk.Models;
using Compressor.Sdk.Options;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>Options of the <c>rtn</c> plugin.</summary>
public sealed record RtnOptions : PluginOptions
{
    /// <summary>Bits per weight code.</summary>
    [Option("Bits per weight code; 3, 5, 6 and 7 are packed densely (exactly b bits per weight in the checkpoint and the ONNX file, unpacked in the graph).", Choices = ["2", "3", "4", "5", "6", "7", "8"])]
    public int WeightBits { get; init; } = 4;

    /// <summary>Weights per scale along each output row; 0 means one scale per output channel.</summary>
    [Option("Weights sharing one scale along each output row (input dimension); 0 = one scale per output channel. Powers of two from 16 to 256 let ONNX Runtime fuse 4-bit MatMuls.", Min = 0, Max = 1 << 20)]
    public int GroupSize { get; init; } = 32;

    /// <summary>Symmetric (signed, no zero point) or asymmetric (unsigned with zero point).</summary>
    [Option("Grid placement: symmetric (signed codes, no zero point) or asymmetric (unsigned codes with a zero point).")]
    public QuantScheme Scheme { get; init; } = QuantScheme.Symmetric;

    /// <summary>Search, per group, the range shrink factor that minimises the squared weight error.</summary>
    [Option("Search per group a clipping factor in [0.5, 1] of the range that minimises the squared weight error (MSE-optimal scale) instead of using the full range.")]
    public bool ClipSearch { get; init; }

    /// <summary>Also quantize embedding tables (e.g. a transformer's word embeddings) into
    /// quantized embedding (<c>quantized_embedding</c>), per row group, with the same bits, group size and scheme.</summary>
    [Option("Also quantize embedding tables (Gather tables of imported ONNX models, token/position embeddings) with the same bits, group size and scheme; exported as a Gather of packed code rows.", Enables = LayerType.Embedding)]
    public bool Embeddings { get; init; }

    /// <summary>Layers (name globs) kept at <see cref="HighPrecisionBits"/> per output channel instead of
    /// <see cref="WeightBits"/> per group: mixed precision for the layers a sensitivity measurement singles out.</summary>
    [Option("Layers (name globs) quantized at --high-precision-bits per output channel instead of --weight-bits per group (mixed precision for sensitive layers; the report's quantizedBitsPerWeight counts them).")]
    public string[] HighPrecisionLayers { get; init; } = [];

    /// <summary>Bits per code of the <see cref="HighPrecisionLayers"/>.</summary>
    [Option("Bits per weight code of the --high-precision-layers.", Choices = ["2", "3", "4", "5", "6", "7", "8"])]
    public int HighPrecisionBits { get; init; } = 8;

    /// <summary>Bits of the layer inputs: 0 keeps them float (weight-only); 8 quantizes them too (W8A8, with
    /// <c>--weight-bits 8 --group-size 0</c>), so that ONNX Runtime runs the layers on its integer kernels.</summary>
    [Option("Bits of each layer's input: 0 = float inputs (weight-only quantization); 8 = W8A8 (needs --weight-bits 8 --group-size 0): the layers become integer layers that ONNX Runtime runs on its int8 kernels (export with --target speed).", Choices = ["0", "8"])]
    public int ActivationBits { get; init; }

    /// <summary>Static (calibrated), dynamic per token, or dynamic per tensor input quantization.</summary>
    [Option("With --activation-bits 8: static (one calibrated uint8 scale and zero point per layer; needs --data), dynamic (per-token int8 scales computed at run time; data-free) or dynamic-tensor (one scale per tensor at run time, as ONNX Runtime's quantize_dynamic).")]
    public ActivationScheme ActivationScheme { get; init; } = ActivationScheme.Static;

    /// <summary>How static ranges are calibrated.</summary>
    [Option("How a static activation range is chosen: minmax (observed range), percentile (--percentile), mse (clip minimising the squared quantization error).")]
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;

    /// <summary>The percentile of <c>--calibration percentile</c>.</summary>
    [Option("Upper percentile of --calibration percentile (the lower one is 100 minus it).", Min = 90, Max = 100)]
    public double Percentile { get; init; } = 99.99;

    /// <summary>Calibration batches to observe (of 8 samples each).</summary>
    [Option("Calibration batches (8 samples each) observed for static ranges and SmoothQuant.", Min = 1, Max = 10000)]
    public int CalibrationBatches { get; init; } = 8;

    /// <summary>SmoothQuant's migration strength α (0 = off).</summary>
    [Option("SmoothQuant migration strength alpha in (0, 1] (0 = off): per input channel s = max|X|^alpha / max|W|^(1-alpha), X/s folded into the preceding LayerNorm or linear, W·s into the layer; needs --activation-bits 8 and --data.", Min = 0, Max = 1)]
    public double Smoothquant { get; init; }
}
