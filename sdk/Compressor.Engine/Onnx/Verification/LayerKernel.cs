namespace Compressor.Engine.Onnx.Verification;

/// <summary>Which ONNX Runtime kernels computed one compressed layer at ORT_ENABLE_ALL, read back from the optimised
/// graph ORT saves (<see cref="LayerKernels.Attribute"/>).</summary>
/// <param name="Layer">The layer's fully qualified name.</param>
/// <param name="Kind">Its compressed layer kind.</param>
/// <param name="Kernels">The operators of the optimised graph that compute it ("domain.OpType", the ai.onnx domain
/// left out), each with its node count, sorted by name.</param>
/// <param name="Form">How its product ran: <c>integer</c> (int8/uint8 operands on an integer kernel:
/// MatMulIntegerToFloat, DynamicQuantizeMatMul, QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger),
/// <c>weight-only</c> (MatMulNBits: low-bit weights, float activations quantized inside the kernel) or <c>float</c>
/// (a float MatMul/Gemm/Conv remains: the layer fell back).</param>
public sealed record LayerKernel(string Layer, string Kind, IReadOnlyDictionary<string, int> Kernels, string Form)
{
    /// <summary>The <see cref="Form"/> of a layer on an integer kernel.</summary>
    public const string Integer = "integer";

    /// <summary>The <see cref="Form"/> of a layer on ORT's weight-only low-bit kernel.</summary>
    public const string WeightOnly = "weight-only";

    /// <summary>The <see cref="Form"/> of a layer that still runs a float product.</summary>
    public const string Float = "float";
}
