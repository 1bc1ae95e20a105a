namespace Compressor.Layers.Integer;

/// <summary>The format of an <see cref="IntegerLayer"/>: int8 weights with one float32 scale per output channel
/// (symmetric: signed codes, no zero point), inputs quantized to 8 bits as <paramref name="Activations"/> says.</summary>
/// <param name="Activations">How the input is quantized.</param>
public sealed record IntegerFormat(ActivationQuantization Activations)
{
    /// <summary>Whether the output is requantized to a static uint8 grid too (a calibrated scale and zero point), with
    /// the bias on the int32 grid of the product (input scale × weight scale): the form of ONNX <c>QLinearConv</c>,
    /// ONNX Runtime's fast integer convolution. Static conv2d layers only; false (the default, and what files written
    /// before it say by omission): a float output.</summary>
    public bool QuantizedOutput { get; init; }
}
