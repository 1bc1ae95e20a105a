namespace Compressor.Layers.Integer;

/// <summary>The format of an <see cref="IntegerLayer"/>: int8 weights with one float32 scale per output channel
/// (symmetric: signed codes, no zero point), inputs quantized to 8 bits as <paramref name="Activations"/> says.</summary>
/// <param name="Activations">How the input is quantized.</param>
public sealed record IntegerFormat(ActivationQuantization Activations);
