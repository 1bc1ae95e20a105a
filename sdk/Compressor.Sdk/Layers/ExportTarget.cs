namespace Compressor.Sdk.Layers;

/// <summary>What an ONNX export is optimised for (<c>--target</c> of <c>compress run</c> and <c>compress export</c>),
/// handed to every lowering as <see cref="ILoweringContext.Target"/>. A layer kind with only one form ignores it.</summary>
public enum ExportTarget
{
    /// <summary>The smallest file: weights as their packed codes, dequantized next to the float operator that uses
    /// them (ONNX Runtime fuses low-bit DequantizeLinear → MatMul into its weight-only kernels). The default.</summary>
    Size = 0,

    /// <summary>The fastest CPU inference: layers whose weights and inputs are quantized are written so that ONNX
    /// Runtime runs them on its integer kernels (int8 weights, int8/uint8 activations: <c>MatMulIntegerToFloat</c>,
    /// <c>DynamicQuantizeMatMul</c>, <c>QLinearMatMul</c>, <c>MatMulInteger</c>, <c>ConvInteger</c>); a layer whose
    /// grid cannot be carried exactly in int8 refuses the target (kind <see cref="ErrorKind.InvalidOptions"/>).</summary>
    Speed = 1,
}
