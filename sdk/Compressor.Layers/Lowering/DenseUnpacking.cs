using Compressor.Layers.Packing;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Lowering;

/// <summary>Unpacks densely packed b-bit codes (<see cref="IntPacking"/>: one little-endian bit stream, b ∈ 1..8, for the
/// widths ONNX has no element type for: 1, 3, 5, 6, 7) inside the graph, with standard bit operations, so the file holds
/// exactly b bits per code. The packed bytes are one uint8 initializer [words, bytes per word] (a word is lcm(8, b)
/// bits: 8 codes in 3 bytes at 3 bits, 8 in 5 at 5, 4 in 3 at 6). Code j of a word starts at bit j·b, i.e. in byte
/// lo_j = ⌊j·b/8⌋ at shift s_j = j·b mod 8, and continues into byte lo_j + 1 when s_j + b &gt; 8:
/// <code>u_j = ((byte[lo_j] &gt;&gt; s_j) | (byte[lo_j + 1] &lt;&lt; t_j)) &amp; (2^b − 1),   t_j = 8 − s_j (7 when s_j = 0)</code>
/// all in uint8 (bits shifted past bit 7 fall off; a byte that is not continued into lands at bits ≥ b and is masked
/// away, hence t_j = 7 rather than an undefined shift by 8). Nodes: two Gathers of the byte columns, Cast of the int64
/// shift and mask constants to uint8, BitShift right and left, BitwiseOr, BitwiseAnd, Reshape and Slice to the codes'
/// count and shape. Signed codes are b-bit two's complement, widened as q = u − 2^b·(u &gt;&gt; (b − 1)) in int32 and Cast
/// to int8. Every input is a constant, so ONNX Runtime folds the whole unpacking into one int8/uint8 tensor when the
/// session starts. The shift positions and the mask are int64 constants (layout metadata, like shapes and axes); the
/// only weight bytes in the file are the packed codes.</summary>
public static class DenseUnpacking
{
    /// <summary>The lowest <c>ai.onnx</c> opset of the unpacking (BitwiseAnd and BitwiseOr).</summary>
    public const int MinimumOpset = 18;

    /// <summary>Adds the packed bytes of <paramref name="count"/> codes and the nodes unpacking them into a tensor of
    /// <paramref name="shape"/> (int8 when <paramref name="signed"/>, else uint8); returns its name.</summary>
    /// <param name="context">The lowering context.</param>
    /// <param name="hint">Name hint of the initializer and values.</param>
    /// <param name="packed">The codes packed by <see cref="IntPacking.Pack"/> (<see cref="IntPacking.PackedBytes"/> bytes).</param>
    /// <param name="count">Number of codes.</param>
    /// <param name="bits">Bits per code, 1..7.</param>
    /// <param name="signed">Two's complement codes (int8 result) or unsigned (uint8 result).</param>
    /// <param name="shape">The result's shape (its elements multiply to <paramref name="count"/>).</param>
    /// <exception cref="ArgumentException">Inconsistent sizes or an unsupported width.</exception>
    public static string Unpack(ILoweringContext context, string hint, byte[] packed, long count, int bits, bool signed, long[] shape)
    {
        if (bits is < 1 or > 7) throw new ArgumentException($"dense unpacking takes 1- to 7-bit codes, not {bits}");
        if (packed.LongLength != IntPacking.PackedBytes(count, bits)) throw new ArgumentException($"{packed.LongLength} packed bytes for {count} {bits}-bit codes");
        if (shape.Aggregate(1L, (a, b) => a * b) != count) throw new ArgumentException($"shape [{string.Join(", ", shape)}] does not hold {count} codes");
        context.RequireOpset("", MinimumOpset);
        var (perWord, wordBytes) = IntPacking.Word(bits);
        long words = (packed.LongLength + wordBytes - 1) / wordBytes;
        var bytes = new byte[words * wordBytes];
        Array.Copy(packed, bytes, packed.LongLength);

        string table = context.UniqueName(hint + "_packed");
        context.AddInitializer(new OnnxInitializer(table, OnnxDataType.UInt8, [words, wordBytes], bytes));
        var lo = new long[perWord];
        var hi = new long[perWord];
        var right = new long[perWord];
        var left = new long[perWord];
        for (int j = 0; j < perWord; j++)
        {
            int bit = j * bits;
            lo[j] = bit / 8;
            hi[j] = Math.Min(lo[j] + 1, wordBytes - 1);
            right[j] = bit % 8;
            left[j] = right[j] == 0 ? 7 : 8 - right[j];
        }
        string low = Gather(context, hint + "_low_bytes", table, Initializers.Int64Vector(context, hint + "_low_byte", lo));
        string high = Gather(context, hint + "_high_bytes", table, Initializers.Int64Vector(context, hint + "_high_byte", hi));
        string shiftedLow = Initializers.Node(context, "BitShift", hint + "_low_part", [low, Byte(context, hint + "_right_shift", right)], Direction("RIGHT"));
        string shiftedHigh = Initializers.Node(context, "BitShift", hint + "_high_part", [high, Byte(context, hint + "_left_shift", left)], Direction("LEFT"));
        string joined = Initializers.Node(context, "BitwiseOr", hint + "_joined", [shiftedLow, shiftedHigh]);
        string codes = Initializers.Node(context, "BitwiseAnd", hint + "_codes", [joined, Byte(context, hint + "_mask", (1L << bits) - 1)]);
        string flat = Initializers.Node(context, "Reshape", hint + "_flat", [codes, Initializers.Int64Vector(context, "shape_flat", -1)]);
        if (words * perWord != count)
            flat = Initializers.Node(context, "Slice", hint + "_trimmed", [flat, Initializers.Int64Vector(context, "starts", 0), Initializers.Int64Vector(context, "ends", count),
                Initializers.Int64Vector(context, "axes", 0)]);
        string unsigned = Initializers.Node(context, "Reshape", hint + "_unsigned", [flat, Initializers.Int64(context, hint + "_shape", [shape.Length], shape)]);
        if (!signed) return unsigned;

        // Two's complement of b bits: q = u − 2^b·(u >> (b − 1)), in int32, then int8.
        string sign = Initializers.Node(context, "BitShift", hint + "_sign", [unsigned, Byte(context, hint + "_sign_shift", bits - 1)], Direction("RIGHT"));
        string sign32 = Initializers.Node(context, "Cast", hint + "_sign_i32", [sign], To(OnnxDataType.Int32));
        string u32 = Initializers.Node(context, "Cast", hint + "_u_i32", [unsigned], To(OnnxDataType.Int32));
        string wrap = Initializers.Node(context, "Mul", hint + "_wrap", [sign32, Int32Scalar(context, hint + "_range", 1 << bits)]);
        string q32 = Initializers.Node(context, "Sub", hint + "_signed_i32", [u32, wrap]);
        return Initializers.Node(context, "Cast", hint + "_signed", [q32], To(OnnxDataType.Int8));
    }

    private static string Gather(ILoweringContext context, string hint, string table, string indices) =>
        Initializers.Node(context, "Gather", hint, [table, indices], new Dictionary<string, object> { ["axis"] = 1L });

    /// <summary>uint8 constants written as int64 (layout metadata) and cast in the graph.</summary>
    private static string Byte(ILoweringContext context, string hint, params long[] values)
    {
        string wide = values.Length == 1 ? Initializers.Int64Scalar(context, hint, values[0]) : Initializers.Int64Vector(context, hint, values);
        return Initializers.Node(context, "Cast", hint + "_u8", [wide], To(OnnxDataType.UInt8));
    }

    private static string Int32Scalar(ILoweringContext context, string hint, long value) =>
        Initializers.Node(context, "Cast", hint + "_i32", [Initializers.Int64Scalar(context, hint, value)], To(OnnxDataType.Int32));

    private static Dictionary<string, object> Direction(string direction) => new() { ["direction"] = direction };

    private static Dictionary<string, object> To(int type) => new() { ["to"] = (long)type };
}
