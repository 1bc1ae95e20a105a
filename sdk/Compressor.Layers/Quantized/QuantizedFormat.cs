namespace Compressor.Layers.Quantized;

/// <summary>Group-quantized weights: b-bit integer codes with one float32 scale (and, when asymmetric, one zero point)
/// per group of consecutive weights along each row, w ≈ (q − z)·s.</summary>
/// <param name="Bits">Bits per code, 2 to 8. 2, 4 and 8 are ONNX's int2/int4/int8; 3, 5, 6 and 7 are packed densely (b
/// bits per code) and unpacked in the graph. Every width packs as one bit stream, which for 2, 4 and 8 is the packing
/// format 1 wrote, so configs need no version change: a config of 3, 5, 6 or 7 bits could not be written before.</param>
/// <param name="GroupSize">Weights per scale along a row; 0 means one group per row (per channel).</param>
/// <param name="Symmetric">Signed codes without zero points (true), or unsigned codes with zero points (false).</param>
public sealed record QuantizedFormat(int Bits, int GroupSize, bool Symmetric);
