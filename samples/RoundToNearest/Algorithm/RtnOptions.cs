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
    [Option("Also quantize embedding tables (Gather tables of imported ONNX models, token/position embeddings) with the same bits, group size and scheme; exported as a Gather of packed code rows.")]
    public bool Embeddings { get; init; }

    /// <summary>Layers (name globs) kept at <see cref="HighPrecisionBits"/> per output channel instead of
    /// <see cref="WeightBits"/> per group: mixed precision for the layers a sensitivity measurement singles out.</summary>
    [Option("Layers (name globs) quantized at --high-precision-bits per output channel instead of --weight-bits per group (mixed precision for sensitive layers; the report's quantizedBitsPerWeight counts them).")]
    public string[] HighPrecisionLayers { get; init; } = [];

    /// <summary>Bits per code of the <see cref="HighPrecisionLayers"/>.</summary>
    [Option("Bits per weight code of the --high-precision-layers.", Choices = ["2", "3", "4", "5", "6", "7", "8"])]
    public int HighPrecisionBits { get; init; } = 8;
}
