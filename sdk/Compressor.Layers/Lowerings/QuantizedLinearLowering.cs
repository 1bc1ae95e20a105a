using Compressor.Sdk.Layers;
using TorchSharp;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="QuantizedLinear"/> to DequantizeLinear(Wᵀ codes) → MatMul (→ Add bias). The weight is
/// written transposed, [in, out], so that MatMul takes it directly: per channel, per-axis DQ along axis 1 (8-bit:
/// opset 13 form); per group, blocked DQ along axis 0 with block_size = group size (opset 21). This is the pattern
/// ORT's graph optimiser fuses into <c>com.microsoft.MatMulNBits</c> (2/4/8-bit, block size a power of two in
/// [16, 256]) at ORT_ENABLE_EXTENDED and above. 4-bit uses int4/uint4 (opset 21); 2-bit uses int2/uint2 DQ
/// (opset 25), which ORT 1.31.1 CPU loads and runs exactly (checked by this SDK's tests), so no contrib op is
/// needed. Asymmetric layers pass uint zero points.</summary>
public sealed class QuantizedLinearLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => QuantizedLinear.KindId;

    /// <summary>Whether the transposed 2-bit codes [in, out] start each row on a byte boundary (out·bits divisible by
    /// 8). ORT 1.31.1's DQ(int2/uint2) → MatMul fusion into MatMulNBits reads unaligned rows wrongly (measured:
    /// SQNR ≈ 0 dB at ORT_ENABLE_ALL for out = 6, 9, 10, 14, exact at BASIC), so such layers keep the stored
    /// [out, in] packing, DQ along axis 1, and a Transpose, which ORT does not fuse. 4- and 8-bit layers of any
    /// width fuse correctly.</summary>
    internal static bool RowsAreByteAligned(QuantizedLinear q) => q.Bits != 2 || q.Rows * q.Bits % 8 == 0;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var q = layer as QuantizedLinear ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(QuantizedLinear)}, got {layer.GetType().Name}");
        string w;
        if (RowsAreByteAligned(q))
        {
            w = QuantizedWeight.Dequantize(context, q, transpose: true);
        }
        else
        {
            string stored = QuantizedWeight.Dequantize(context, q, transpose: false);
            w = context.UniqueName("weight_t");
            context.AddNode("Transpose", [stored], [w], new Dictionary<string, object> { ["perm"] = new long[] { 1, 0 } });
        }
        string? bias = QuantizedWeight.Bias(context, q);
        if (bias is null)
        {
            context.AddNode("MatMul", [input, w], [output]);
            return;
        }
        string product = context.UniqueName("matmul");
        context.AddNode("MatMul", [input, w], [product]);
        context.AddNode("Add", [product, bias], [output]);
    }
}
