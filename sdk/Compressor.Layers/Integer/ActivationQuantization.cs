namespace Compressor.Layers.Integer;

/// <summary>How an <see cref="IntegerLayer"/> quantizes its input to 8 bits before the integer product.</summary>
public enum ActivationQuantization
{
    /// <summary>Static: one scale and one uint8 zero point for the whole tensor, calibrated beforehand (the codes of
    /// ONNX QuantizeLinear). ONNX Runtime runs the product as <c>MatMulIntegerToFloat</c> (linear) or
    /// <c>ConvInteger</c> (conv2d).</summary>
    Static,

    /// <summary>Dynamic per token: at run time, each row of the last axis (a token of a transformer) gets its own
    /// symmetric scale max|x|/127 (codes −127…127, stored as uint8 with zero point 128); the product runs as
    /// <c>MatMulInteger</c> and is scaled per row and per output channel afterwards. Linear layers only.</summary>
    DynamicPerToken,

    /// <summary>Dynamic per tensor: at run time, one asymmetric uint8 scale and zero point over the whole tensor
    /// (ONNX DynamicQuantizeLinear), as ONNX Runtime's <c>quantize_dynamic</c> does; ORT fuses the linear product into
    /// <c>DynamicQuantizeMatMul</c>; a conv2d runs <c>ConvInteger</c>.</summary>
    DynamicPerTensor,
}
