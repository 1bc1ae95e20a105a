using Compressor.Sdk.Layers;
using Compressor.Sdk.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Lowers <see cref="QuantizedEmbedding"/> to Gathers of the packed codes, scales and zero points of the
/// looked-up rows followed by integer unpacking, all standard opset-13 operators. ONNX's Gather does not take int4/int2
/// tensors and ORT does not fuse DequantizeLinear → Gather (a DQ of the whole table would decode every row at every
/// run), so the stored bytes are written as they are — uint8, codes packed low bits first in row-major order (the
/// layer's own packing, byte for byte), float32 scales [vocabulary·groups], packed zero points — and only the rows of
/// the given indices are decoded. For index i and column j (weight position p = i·dim + j, group k = i·groups + j / group):
/// <code>
/// byte  = Cast&lt;int64&gt;(Gather(codes, p / (8/b)))
/// u     = (byte / 2^(b·(p mod 8/b))) mod 2^b              (2/4-bit; 8-bit: u = byte)
/// q     = (u + 2^(b−1)) mod 2^b − 2^(b−1)                 (signed codes: two's complement)
/// w     = (Cast&lt;float&gt;(q) − zero[k]) · scale[k]           [N, dim] → [..., dim]
/// </code>
/// The file thus holds exactly the layer's theoretical bytes (count·b/8 + scales + zero points) plus int64 index
/// constants (column offsets, shapes), which are metadata.</summary>
public sealed class QuantizedEmbeddingLowering : IOnnxLowering
{
    /// <inheritdoc/>
    public string LayerKind => QuantizedEmbedding.KindId;

    /// <inheritdoc/>
    public void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output)
    {
        var e = layer as QuantizedEmbedding ?? throw new ArgumentException($"{context.LayerName}: expected a {nameof(QuantizedEmbedding)}, got {layer.GetType().Name}");
        context.RequireOpset("", 13);
        using var scope = NewDisposeScope();
        long rows = e.Rows, cols = e.Cols;
        long group = GroupQuantization.EffectiveGroupSize(cols, e.GroupSize), groups = GroupQuantization.GroupCount(cols, e.GroupSize);

        // Row indices as a column [N, 1].
        string flat = context.UniqueName("indices_flat");
        context.AddNode("Reshape", [input, Int64(context, "shape_column", -1, 1)], [flat]);

        // Codes: positions i·dim + j.
        string codeTable = Table(context, "codes", e.PackedCodes);
        string codePositions = Positions(context, flat, cols, Int64(context, "columns", Enumerable.Range(0, (int)cols).Select(j => (long)j).ToArray()), "code");
        string q = Unpack(context, "codes", codeTable, codePositions, e.Bits, e.Symmetric);

        // Scales and zero points: group positions i·groups + j / group.
        string groupOfColumn = Int64(context, "group_of_column", Enumerable.Range(0, (int)cols).Select(j => j / group).ToArray());
        string groupPositions = Positions(context, flat, groups, groupOfColumn, "group");
        var scales = e.Scales.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string scaleTable = context.UniqueName("scales");
        context.AddInitializer(new OnnxInitializer(scaleTable, OnnxDataType.Float, [rows * groups], scales.bytes.ToArray()));
        string s = context.UniqueName("scale_per_weight");
        context.AddNode("Gather", [scaleTable, groupPositions], [s], new Dictionary<string, object> { ["axis"] = 0L });

        string centred = q;
        if (e.PackedZeroPoints is { } zeroPoints)
        {
            string z = Unpack(context, "zero_points", Table(context, "zero_points", zeroPoints), groupPositions, e.Bits, signed: false);
            centred = context.UniqueName("codes_centred");
            context.AddNode("Sub", [q, z], [centred]);
        }
        string values = context.UniqueName("rows");
        context.AddNode("Mul", [centred, s], [values]);

        // [N, dim] back to the indices' shape plus the row width.
        string indexShape = context.UniqueName("indices_shape");
        context.AddNode("Shape", [input], [indexShape]);
        string outShape = context.UniqueName("output_shape");
        context.AddNode("Concat", [indexShape, Int64(context, "width", cols)], [outShape], new Dictionary<string, object> { ["axis"] = 0L });
        context.AddNode("Reshape", [values, outShape], [output]);
    }

    /// <summary>Adds packed bytes as a flat uint8 initializer.</summary>
    private static string Table(ILoweringContext context, string hint, Tensor packed)
    {
        string name = context.UniqueName(hint);
        using var bytes = packed.detach().cpu().contiguous();
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.UInt8, [bytes.numel()], bytes.bytes.ToArray()));
        return name;
    }

    /// <summary>Flat positions row·width + offset [N, columns] for row indices [N, 1] and per-column offsets.</summary>
    private static string Positions(ILoweringContext context, string rowColumn, long width, string offsets, string hint)
    {
        string start = context.UniqueName(hint + "_row_start");
        context.AddNode("Mul", [rowColumn, Int64(context, hint + "_width", width)], [start]);
        string positions = context.UniqueName(hint + "_positions");
        context.AddNode("Add", [start, offsets], [positions]);
        return positions;
    }

    /// <summary>Decodes the b-bit values at flat <paramref name="positions"/> of a packed uint8 table: float, same shape.</summary>
    private static string Unpack(ILoweringContext context, string hint, string table, string positions, int bits, bool signed)
    {
        int per = 8 / bits;
        string byteIndex = positions;
        if (per > 1)
        {
            byteIndex = context.UniqueName(hint + "_byte_index");
            context.AddNode("Div", [positions, Int64(context, "per_byte", per)], [byteIndex]);
        }
        string bytes = context.UniqueName(hint + "_bytes");
        context.AddNode("Gather", [table, byteIndex], [bytes], new Dictionary<string, object> { ["axis"] = 0L });
        string v = context.UniqueName(hint + "_int");
        context.AddNode("Cast", [bytes], [v], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Int64 });
        if (per > 1)
        {
            string digit = context.UniqueName(hint + "_digit");
            context.AddNode("Mod", [positions, Int64(context, "per_byte", per)], [digit]);
            string weight = context.UniqueName(hint + "_digit_weight");
            context.AddNode("Gather", [Int64(context, "digit_weights", Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray()), digit], [weight],
                new Dictionary<string, object> { ["axis"] = 0L });
            string shifted = context.UniqueName(hint + "_shifted");
            context.AddNode("Div", [v, weight], [shifted]);
            string low = context.UniqueName(hint + "_low_bits");
            context.AddNode("Mod", [shifted, Int64(context, "modulus", 1L << bits)], [low]);
            v = low;
        }
        if (signed)
        {
            // Two's complement: ((u + 2^(b−1)) mod 2^b) − 2^(b−1).
            string half = Int64(context, "half_range", 1L << (bits - 1));
            string a = context.UniqueName(hint + "_offset");
            context.AddNode("Add", [v, half], [a]);
            string m = context.UniqueName(hint + "_wrapped");
            context.AddNode("Mod", [a, Int64(context, "modulus", 1L << bits)], [m]);
            v = context.UniqueName(hint + "_signed");
            context.AddNode("Sub", [m, half], [v]);
        }
        string f = context.UniqueName(hint + "_float");
        context.AddNode("Cast", [v], [f], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
        return f;
    }

    /// <summary>Adds an int64 vector constant (shapes, offsets: metadata, not counted as compressed bytes).</summary>
    private static string Int64(ILoweringContext context, string hint, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int64, [values.Length], bytes));
        return name;
    }
}
