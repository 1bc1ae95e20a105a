namespace Compressor.Layers.Quantized;

/// <summary>Group-quantized weights: b-bit integer codes with one float32 scale (and, when asymmetric, one zero point)
/// per group of consecutive weights along each row, w ≈ (q − z)·s.</summary>
/// <param name="Bits">Bits per code: 2, 4 or 8.</param>
/// <param name="GroupSize">Weights per scale along a row; 0 means one group per row (per channel).</param>
/// <param name="Symmetric">Signed codes without zero points (true), or unsigned codes with zero points (false).</param>
public sealed record QuantizedFormat(int Bits, int GroupSize, bool Symmetric);
