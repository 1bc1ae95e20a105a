using Compressor.Layers.Lowering;
using Compressor.Layers.Packing;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Quantized;

/// <summary>Writes a <see cref="QuantizedLayer"/>'s weight as ONNX, the file holding the packed codes only:
/// <list type="bullet">
/// <item><b>Wᵀ for MatMul</b> (linear): DequantizeLinear of the codes repacked in [columns, rows] order — per channel a
/// per-axis DQ along axis 1 (int8/uint8 from opset 13, int4 from 21, int2 from 25); per group a blocked DQ along axis 0
/// with <c>block_size</c> = the group size (opset 21). ORT fuses this with the MatMul into <c>MatMulNBits</c>. 2-bit
/// layers whose transposed rows would not start on a byte boundary (rows·2 not divisible by 8) keep the stored [rows,
/// columns] packing, DQ along axis 1, and a Transpose: ORT 1.31.1 fuses those wrongly (measured: SQNR ≈ 0 dB at
/// ORT_ENABLE_ALL for 6, 9, 10 or 14 output rows, exact at BASIC), and does not fuse the Transpose form.</item>
/// <item><b>W in its dense shape</b> (conv2d): the stored packing byte for byte — per channel a per-axis DQ (axis 0)
/// straight on the 4-D codes; per group a blocked DQ along axis 1 of [rows, columns] and a Reshape.</item>
/// <item><b>Row lookup</b> (embedding): Gathers of the packed bytes, scales and zero points of the looked-up rows and
/// integer unpacking in standard opset-13 operators (Gather takes no int4/int2 tensors, and a DQ of the whole table
/// would decode every row at every run). For index i and column j (p = i·dim + j, group k = i·groups + j / group):
/// byte = Gather(codes, p / (8/b)); u = (byte / 2^(b·(p mod 8/b))) mod 2^b; signed q = (u + 2^(b−1)) mod 2^b − 2^(b−1);
/// w = (q − zero[k])·scale[k].</item>
/// </list>
/// Signed codes have no zero-point input; unsigned codes a zero-point tensor of the same type and the scales' shape.
/// <para>Odd widths (3, 5, 6, 7 bits) have no ONNX element type: their codes (and zero points) are stored densely packed
/// as uint8 bytes and unpacked into int8/uint8 in the graph by <see cref="DenseUnpacking"/> (BitShift, BitwiseAnd,
/// Cast; constant-folded by ORT at session start) before the same DequantizeLinear; an embedding decodes the two bytes
/// each looked-up code spans with integer Div/Mod.</para></summary>
public sealed class QuantizedLowering : IWeightLowering<QuantizedLayer>
{
    /// <summary>The instance.</summary>
    public static QuantizedLowering Instance { get; } = new();

    private QuantizedLowering() { }

    /// <summary>Whether the transposed 2-bit codes [columns, rows] start each row on a byte boundary (see the class).</summary>
    internal static bool RowsAreByteAligned(QuantizedLayer q) => q.Bits != 2 || q.Rows * q.Bits % 8 == 0;

    /// <inheritdoc/>
    public string Transposed(ILoweringContext context, QuantizedLayer layer)
    {
        if (RowsAreByteAligned(layer)) return Dequantize(context, layer, transpose: true);
        string stored = Dequantize(context, layer, transpose: false);
        string w = context.UniqueName("weight_t");
        context.AddNode("Transpose", [stored], [w], new Dictionary<string, object> { ["perm"] = new long[] { 1, 0 } });
        return w;
    }

    /// <inheritdoc/>
    public string Dense(ILoweringContext context, QuantizedLayer layer) =>
        Dequantize(context, layer, transpose: false, shape: layer.DenseWeightShape.Length == 2 ? null : layer.DenseWeightShape);

    /// <summary>Adds the DQ of the layer's weight: Wᵀ [columns, rows] blocked along axis 0 with
    /// <paramref name="transpose"/>, else W [rows, columns] blocked along axis 1 (the stored packing), reshaped to
    /// <paramref name="shape"/> when given. Returns the dequantized value's name.</summary>
    private static string Dequantize(ILoweringContext context, QuantizedLayer layer, bool transpose, long[]? shape = null)
    {
        using var scope = NewDisposeScope();
        bool signed = layer.Symmetric;
        long rows = layer.Rows, cols = layer.Columns;
        long groups = GroupQuantization.GroupCount(cols, layer.GroupSize);
        bool perChannel = groups == 1;
        Tensor scales = layer.Scales.detach().cpu().to_type(ScalarType.Float32);   // [rows, groups]
        Tensor? zeros = layer.ZeroPoints();                                      // [rows, groups] int32
        // 3/5/6/7-bit: uint8 bytes unpacked in the graph (DenseUnpacking). Also per-channel zero points of 2 or 4 bits that
        // do not end on a byte boundary (the 2-bit zero points of a 10-row layer): ORT 1.31.1's constant folding of that
        // per-axis DQ fails ("Element type mismatch between tensor proto and ortvalue_initializer"; blocked zero points of
        // the same size load), so such a layer takes the same bytes unpacked in the graph.
        bool partialBytes = perChannel && zeros is not null && zeros.numel() * layer.Bits % 8 != 0;
        bool dense = !IntPacking.HasOnnxType(layer.Bits) || partialBytes;
        int type = dense ? (signed ? OnnxDataType.Int8 : OnnxDataType.UInt8) : OnnxDataType.Integer(layer.Bits, signed);
        context.RequireOpset("", Math.Max(OnnxDataType.MinimumOpset(type), perChannel ? 13 : 21));
        byte[] codeBytes;
        long[] codeDims, scaleDims;
        var attributes = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (transpose)
        {
            using var codes = layer.Codes();
            using var packed = IntPacking.Pack(codes.t().contiguous(), layer.Bits, signed);
            codeBytes = packed.cpu().bytes.ToArray();
            codeDims = [cols, rows];
            scales = perChannel ? scales.reshape(rows) : scales.t().contiguous();
            zeros = zeros is null ? null : perChannel ? zeros.reshape(rows) : zeros.t().contiguous();
            scaleDims = perChannel ? [rows] : [groups, rows];
            attributes["axis"] = perChannel ? 1L : 0L;
        }
        else
        {
            codeBytes = layer.PackedCodes.detach().cpu().bytes.ToArray();
            bool direct = perChannel && shape is not null;   // per-axis DQ straight on the final (e.g. 4-D) shape
            codeDims = direct ? shape! : [rows, cols];
            scales = perChannel ? scales.reshape(rows) : scales.contiguous();
            zeros = zeros is null ? null : perChannel ? zeros.reshape(rows) : zeros;
            scaleDims = perChannel ? [rows] : [rows, groups];
            attributes["axis"] = perChannel ? 0L : 1L;
            if (direct) shape = null;
        }
        if (!perChannel) attributes["block_size"] = GroupQuantization.EffectiveGroupSize(cols, layer.GroupSize);

        string q = dense
            ? DenseUnpacking.Unpack(context, transpose ? "qweight_t" : "qweight", codeBytes, rows * cols, layer.Bits, signed, codeDims)
            : context.UniqueName(transpose ? "qweight_t" : "qweight");
        if (!dense) context.AddInitializer(new OnnxInitializer(q, type, codeDims, codeBytes));
        string s = context.UniqueName(transpose ? "scales_t" : "scales");
        context.AddInitializer(new OnnxInitializer(s, OnnxDataType.Float, scaleDims, scales.contiguous().bytes.ToArray()));
        var inputs = new List<string> { q, s };
        if (zeros is not null)
        {
            using var pz = IntPacking.Pack(zeros, layer.Bits, signed: false);
            string z = dense
                ? DenseUnpacking.Unpack(context, transpose ? "zero_points_t" : "zero_points", pz.cpu().bytes.ToArray(), zeros.numel(), layer.Bits, signed: false, scaleDims)
                : context.UniqueName(transpose ? "zero_points_t" : "zero_points");
            if (!dense) context.AddInitializer(new OnnxInitializer(z, type, scaleDims, pz.cpu().bytes.ToArray()));
            inputs.Add(z);
        }
        string w = context.UniqueName(transpose ? "weight_t" : "weight");
        context.AddNode("DequantizeLinear", inputs, [w], attributes);
        if (shape is null) return w;
        string reshaped = context.UniqueName("weight_4d");
        string shapeName = context.UniqueName("weight_shape");
        var shapeBytes = new byte[shape.Length * 8];
        Buffer.BlockCopy(shape, 0, shapeBytes, 0, shapeBytes.Length);
        context.AddInitializer(new OnnxInitializer(shapeName, OnnxDataType.Int64, [shape.Length], shapeBytes));
        context.AddNode("Reshape", [w, shapeName], [reshaped]);
        return reshaped;
    }

    /// <inheritdoc/>
    public void Lookup(ILoweringContext context, QuantizedLayer e, string input, string output)
    {
        context.RequireOpset("", 13);
        using var scope = NewDisposeScope();
        long rows = e.Rows, cols = e.Columns;
        long group = GroupQuantization.EffectiveGroupSize(cols, e.GroupSize), groups = GroupQuantization.GroupCount(cols, e.GroupSize);

        // Row indices as a column [N, 1].
        string flat = context.UniqueName("indices_flat");
        context.AddNode("Reshape", [input, Initializers.Int64Vector(context, "shape_column", -1, 1)], [flat]);

        // Codes: positions i·dim + j.
        string codeTable = Table(context, "codes", e.PackedCodes, e.Bits);
        string codePositions = Positions(context, flat, cols, Initializers.Int64Vector(context, "columns", Enumerable.Range(0, (int)cols).Select(j => (long)j).ToArray()), "code");
        string q = Unpack(context, "codes", codeTable, codePositions, e.Bits, e.Symmetric);

        // Scales and zero points: group positions i·groups + j / group.
        string groupOfColumn = Initializers.Int64Vector(context, "group_of_column", Enumerable.Range(0, (int)cols).Select(j => j / group).ToArray());
        string groupPositions = Positions(context, flat, groups, groupOfColumn, "group");
        var scales = e.Scales.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string scaleTable = context.UniqueName("scales");
        context.AddInitializer(new OnnxInitializer(scaleTable, OnnxDataType.Float, [rows * groups], scales.bytes.ToArray()));
        string s = context.UniqueName("scale_per_weight");
        context.AddNode("Gather", [scaleTable, groupPositions], [s], Axis0);

        string centred = q;
        if (e.PackedZeroPoints is { } zeroPoints)
        {
            string z = Unpack(context, "zero_points", Table(context, "zero_points", zeroPoints, e.Bits), groupPositions, e.Bits, signed: false);
            centred = context.UniqueName("codes_centred");
            context.AddNode("Sub", [q, z], [centred]);
        }
        string values = context.UniqueName("rows");
        context.AddNode("Mul", [centred, s], [values]);

        // [N, dim] back to the indices' shape plus the row width.
        string indexShape = context.UniqueName("indices_shape");
        context.AddNode("Shape", [input], [indexShape]);
        string outShape = context.UniqueName("output_shape");
        context.AddNode("Concat", [indexShape, Initializers.Int64Vector(context, "width", cols)], [outShape], new Dictionary<string, object> { ["axis"] = 0L });
        context.AddNode("Reshape", [values, outShape], [output]);
    }

    private static Dictionary<string, object> Axis0 => new() { ["axis"] = 0L };

    /// <summary>Adds packed bytes as a flat uint8 initializer; densely packed odd widths get one zero byte more, so that
    /// a code's second byte can always be gathered (<see cref="UnpackDense"/>).</summary>
    private static string Table(ILoweringContext context, string hint, Tensor packed, int bits)
    {
        string name = context.UniqueName(hint);
        using var bytes = packed.detach().cpu().contiguous();
        var data = bytes.bytes.ToArray();
        if (!IntPacking.HasOnnxType(bits)) Array.Resize(ref data, data.Length + 1);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.UInt8, [data.LongLength], data));
        return name;
    }

    /// <summary>Decodes densely packed odd-width codes (3, 5, 6, 7 bits: one bit stream) at flat
    /// <paramref name="positions"/>: code p starts at bit p·b, in byte ⌊p·b/8⌋ at shift p·b mod 8 and may continue into
    /// the next byte, so u = ((byte0 + 256·byte1) / 2^shift) mod 2^b in int64; signed: u − 2^b·[u ≥ 2^(b−1)].</summary>
    private static string UnpackDense(ILoweringContext context, string hint, string table, string positions, int bits, bool signed)
    {
        string bitIndex = context.UniqueName(hint + "_bit_index");
        context.AddNode("Mul", [positions, Initializers.Int64Vector(context, "bits", bits)], [bitIndex]);
        string first = context.UniqueName(hint + "_byte_index");
        context.AddNode("Div", [bitIndex, Initializers.Int64Vector(context, "eight", 8)], [first]);
        string second = context.UniqueName(hint + "_next_byte_index");
        context.AddNode("Add", [first, Initializers.Int64Vector(context, "one", 1)], [second]);
        string Byte(string index, string name)
        {
            string b = context.UniqueName(hint + name);
            context.AddNode("Gather", [table, index], [b], Axis0);
            string wide = context.UniqueName(hint + name + "_int");
            context.AddNode("Cast", [b], [wide], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Int64 });
            return wide;
        }
        string b0 = Byte(first, "_byte0"), b1 = Byte(second, "_byte1");
        string high = context.UniqueName(hint + "_byte1_shifted");
        context.AddNode("Mul", [b1, Initializers.Int64Vector(context, "byte_weight", 256)], [high]);
        string pair = context.UniqueName(hint + "_two_bytes");
        context.AddNode("Add", [b0, high], [pair]);
        string shift = context.UniqueName(hint + "_shift");
        context.AddNode("Mod", [bitIndex, Initializers.Int64Vector(context, "eight", 8)], [shift]);
        string weight = context.UniqueName(hint + "_shift_weight");
        context.AddNode("Gather", [Initializers.Int64Vector(context, "shift_weights", Enumerable.Range(0, 8).Select(i => 1L << i).ToArray()), shift], [weight], Axis0);
        string shifted = context.UniqueName(hint + "_shifted");
        context.AddNode("Div", [pair, weight], [shifted]);
        string v = context.UniqueName(hint + "_low_bits");
        context.AddNode("Mod", [shifted, Initializers.Int64Vector(context, "modulus", 1L << bits)], [v]);
        return ToFloat(context, hint, v, bits, signed);
    }

    /// <summary>Flat positions row·width + offset [N, columns] for row indices [N, 1] and per-column offsets.</summary>
    private static string Positions(ILoweringContext context, string rowColumn, long width, string offsets, string hint)
    {
        string start = context.UniqueName(hint + "_row_start");
        context.AddNode("Mul", [rowColumn, Initializers.Int64Vector(context, hint + "_width", width)], [start]);
        string positions = context.UniqueName(hint + "_positions");
        context.AddNode("Add", [start, offsets], [positions]);
        return positions;
    }

    /// <summary>Decodes the b-bit values at flat <paramref name="positions"/> of a packed uint8 table: float, same shape.</summary>
    private static string Unpack(ILoweringContext context, string hint, string table, string positions, int bits, bool signed)
    {
        if (!IntPacking.HasOnnxType(bits)) return UnpackDense(context, hint, table, positions, bits, signed);
        int per = 8 / bits;
        string byteIndex = positions;
        if (per > 1)
        {
            byteIndex = context.UniqueName(hint + "_byte_index");
            context.AddNode("Div", [positions, Initializers.Int64Vector(context, "per_byte", per)], [byteIndex]);
        }
        string bytes = context.UniqueName(hint + "_bytes");
        context.AddNode("Gather", [table, byteIndex], [bytes], Axis0);
        string v = context.UniqueName(hint + "_int");
        context.AddNode("Cast", [bytes], [v], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Int64 });
        if (per > 1)
        {
            string digit = context.UniqueName(hint + "_digit");
            context.AddNode("Mod", [positions, Initializers.Int64Vector(context, "per_byte", per)], [digit]);
            string weight = context.UniqueName(hint + "_digit_weight");
            context.AddNode("Gather", [Initializers.Int64Vector(context, "digit_weights", Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray()), digit], [weight], Axis0);
            string shifted = context.UniqueName(hint + "_shifted");
            context.AddNode("Div", [v, weight], [shifted]);
            string low = context.UniqueName(hint + "_low_bits");
            context.AddNode("Mod", [shifted, Initializers.Int64Vector(context, "modulus", 1L << bits)], [low]);
            v = low;
        }
        return ToFloat(context, hint, v, bits, signed);
    }

    /// <summary>Unsigned b-bit values (int64) → float, read as two's complement when <paramref name="signed"/>:
    /// ((u + 2^(b−1)) mod 2^b) − 2^(b−1).</summary>
    private static string ToFloat(ILoweringContext context, string hint, string v, int bits, bool signed)
    {
        if (signed)
        {
            string half = Initializers.Int64Vector(context, "half_range", 1L << (bits - 1));
            string a = context.UniqueName(hint + "_offset");
            context.AddNode("Add", [v, half], [a]);
            string m = context.UniqueName(hint + "_wrapped");
            context.AddNode("Mod", [a, Initializers.Int64Vector(context, "modulus", 1L << bits)], [m]);
            v = context.UniqueName(hint + "_signed");
            context.AddNode("Sub", [m, half], [v]);
        }
        string f = context.UniqueName(hint + "_float");
        context.AddNode("Cast", [v], [f], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
        return f;
    }
}
