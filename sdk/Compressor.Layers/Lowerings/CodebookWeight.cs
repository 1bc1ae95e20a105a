using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Lowerings;

/// <summary>Writes a <see cref="CodebookLayer"/>'s weight as ONNX: the packed indices as one uint2/uint4/uint8
/// initializer [O, I] (the stored bytes, unchanged) → Cast(int64) → Gather from the fp16 codebook(s) → Cast(float),
/// times the fp16 group scale gathered per row (variant scales), or with each row's indices offset by group·K into
/// the flattened per-group codebooks (variant codebooks); a stored row order is applied with a final Gather on axis 0.
/// Row groups are computed in the graph, ⌊Range(O)·G / O⌋, so no per-row table is stored. ORT has no codebook op;
/// this form is exact (the same float32 product the TorchSharp layer computes) and ORT 1.31.1 CPU runs it (Cast from
/// uint2 needs opset 25, from uint4 opset 21).</summary>
internal static class CodebookWeight
{
    /// <summary>Adds the nodes computing the dense weight [O, I] in original row order; returns its value name.</summary>
    public static string Emit(ILoweringContext context, CodebookLayer layer)
    {
        using var scope = NewDisposeScope();
        int type = OnnxDataType.Integer(layer.ContainerBits, signed: false);
        context.RequireOpset("", Math.Max(13, type switch { OnnxDataType.UInt2 => 25, OnnxDataType.UInt4 => 21, _ => 13 }));
        long rows = layer.Rows, cols = layer.Cols, k = layer.CodebookSize;

        string packed = context.UniqueName("codebook_indices");
        context.AddInitializer(new OnnxInitializer(packed, type, [rows, cols], layer.PackedIndices.detach().cpu().bytes.ToArray()));
        string idx = context.UniqueName("indices_i64");
        context.AddNode("Cast", [packed], [idx], Attr("to", OnnxDataType.Int64));

        // Row groups ⌊r·G/O⌋ from int64 scalars (shape-like constants).
        string range = context.UniqueName("rows");
        context.AddNode("Range", [Scalar(context, "zero", 0), Scalar(context, "row_count", rows), Scalar(context, "one", 1)], [range]);
        string times = context.UniqueName("rows_times_groups");
        context.AddNode("Mul", [range, Scalar(context, "group_count", layer.Groups)], [times]);
        string groups = context.UniqueName("row_groups");
        context.AddNode("Div", [times, Scalar(context, "row_count", rows)], [groups]);

        var codebooks = layer.Codebooks.detach().cpu().contiguous();
        string table = context.UniqueName("codebooks");
        context.AddInitializer(new OnnxInitializer(table, OnnxDataType.Float16, [codebooks.numel()], codebooks.bytes.ToArray()));
        string w;
        if (layer.Variant == CodebookVariant.Scales)
        {
            string gathered = context.UniqueName("codewords_fp16");
            context.AddNode("Gather", [table, idx], [gathered], Attr("axis", 0));
            string values = context.UniqueName("codewords");
            context.AddNode("Cast", [gathered], [values], Attr("to", OnnxDataType.Float));
            var scales = layer.Scales!.detach().cpu().contiguous();
            string s = context.UniqueName("group_scales");
            context.AddInitializer(new OnnxInitializer(s, OnnxDataType.Float16, [layer.Groups], scales.bytes.ToArray()));
            string rowScale16 = context.UniqueName("row_scales_fp16");
            context.AddNode("Gather", [s, groups], [rowScale16], Attr("axis", 0));
            string rowScale = context.UniqueName("row_scales");
            context.AddNode("Cast", [rowScale16], [rowScale], Attr("to", OnnxDataType.Float));
            string column = context.UniqueName("row_scales_column");
            context.AddNode("Unsqueeze", [rowScale, Axes(context)], [column]);
            w = context.UniqueName("codebook_weight");
            context.AddNode("Mul", [values, column], [w]);
        }
        else
        {
            string offsets = context.UniqueName("group_offsets");
            context.AddNode("Mul", [groups, Scalar(context, "codebook_size", k)], [offsets]);
            string column = context.UniqueName("group_offsets_column");
            context.AddNode("Unsqueeze", [offsets, Axes(context)], [column]);
            string flat = context.UniqueName("flat_indices");
            context.AddNode("Add", [idx, column], [flat]);
            string gathered = context.UniqueName("codewords_fp16");
            context.AddNode("Gather", [table, flat], [gathered], Attr("axis", 0));
            w = context.UniqueName("codebook_weight");
            context.AddNode("Cast", [gathered], [w], Attr("to", OnnxDataType.Float));
        }
        if (!layer.Permuted) return w;
        var order = layer.RowOrder!.detach().cpu().contiguous();
        int orderType = order.dtype == ScalarType.Int16 ? OnnxDataType.Int16 : OnnxDataType.Int32;
        string stored = context.UniqueName("row_order");
        context.AddInitializer(new OnnxInitializer(stored, orderType, [rows], order.bytes.ToArray()));
        string order64 = context.UniqueName("row_order_i64");
        context.AddNode("Cast", [stored], [order64], Attr("to", OnnxDataType.Int64));
        string reordered = context.UniqueName("codebook_weight_ordered");
        context.AddNode("Gather", [w, order64], [reordered], Attr("axis", 0));
        return reordered;
    }

    /// <summary>Adds the layer's bias as a float32 initializer; returns its name, or null without bias.</summary>
    public static string? Bias(ILoweringContext context, CodebookLayer layer)
    {
        if (layer.Bias is not { } bias) return null;
        using var scope = NewDisposeScope();
        var b = bias.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string name = context.UniqueName("bias");
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, b.shape, b.bytes.ToArray()));
        return name;
    }

    /// <summary>Adds an int64 initializer holding <paramref name="values"/> with <paramref name="dims"/>.</summary>
    public static string Int64(ILoweringContext context, string hint, long[] dims, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int64, dims, bytes));
        return name;
    }

    private static string Scalar(ILoweringContext context, string hint, long value) => Int64(context, hint, [], value);

    private static string Axes(ILoweringContext context) => Int64(context, "axes", [1], 1);

    private static Dictionary<string, object> Attr(string name, long value) => new() { [name] = value };
}
