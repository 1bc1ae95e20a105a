using Compressor.Layers.Lowering;
using Compressor.Layers.Packing;
using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Codebook;

/// <summary>Writes a <see cref="CodebookLayer"/>'s weight as ONNX: the packed indices as one uint2/uint4/uint8
/// initializer [O, I] (the stored bytes, unchanged; densely packed 1-, 3-, 5-, 6- and 7-bit indices as their uint8
/// bytes unpacked in the graph by <see cref="DenseUnpacking"/>) → Cast(int64) → Gather from the fp16 codebook(s) → Cast(float),
/// times the fp16 group scale gathered per row (variant scales), or with each row's indices offset by group·K into the
/// flattened per-group codebooks (variant codebooks); a stored row order is applied with a final Gather on axis 0. Row
/// groups are computed in the graph, ⌊Range(O)·G / O⌋, so no per-row table is stored. ORT has no codebook operator;
/// this form is exact (the same float32 product the layer computes) and ORT 1.31.1 CPU runs it (Cast from uint2 needs
/// opset 25, from uint4 opset 21). A linear then transposes the weight for its MatMul; a convolution reshapes it to
/// the kernel shape.</summary>
public sealed class CodebookLowering : IWeightLowering<CodebookLayer>
{
    /// <summary>The instance.</summary>
    public static CodebookLowering Instance { get; } = new();

    private CodebookLowering() { }

    /// <inheritdoc/>
    public string Transposed(ILoweringContext context, CodebookLayer layer)
    {
        string w = Emit(context, layer);
        string wt = context.UniqueName("codebook_weight_t");
        context.AddNode("Transpose", [w], [wt], new Dictionary<string, object> { ["perm"] = new long[] { 1, 0 } });
        return wt;
    }

    /// <inheritdoc/>
    public string Dense(ILoweringContext context, CodebookLayer layer)
    {
        string w = Emit(context, layer);
        var shape = layer.DenseWeightShape;
        string kernel = context.UniqueName("codebook_kernel");
        context.AddNode("Reshape", [w, Initializers.Int64(context, "kernel_shape", [shape.Length], shape)], [kernel]);
        return kernel;
    }

    /// <summary>Adds the nodes computing the dense weight [O, I] in original row order; returns its value name.</summary>
    private static string Emit(ILoweringContext context, CodebookLayer layer)
    {
        using var scope = NewDisposeScope();
        long rows = layer.Rows, cols = layer.Columns, k = layer.CodebookSize;
        string packed;
        if (IntPacking.HasOnnxType(layer.ContainerBits))
        {
            int type = OnnxDataType.Integer(layer.ContainerBits, signed: false);
            context.RequireOpset("", Math.Max(13, type switch { OnnxDataType.UInt2 => 25, OnnxDataType.UInt4 => 21, _ => 13 }));
            packed = context.UniqueName("codebook_indices");
            context.AddInitializer(new OnnxInitializer(packed, type, [rows, cols], layer.PackedIndices.detach().cpu().bytes.ToArray()));
        }
        else
        {
            packed = DenseUnpacking.Unpack(context, "codebook_indices", layer.PackedIndices.detach().cpu().bytes.ToArray(), rows * cols, layer.ContainerBits, signed: false, [rows, cols]);
        }
        string idx = context.UniqueName("indices_i64");
        context.AddNode("Cast", [packed], [idx], Attr("to", OnnxDataType.Int64));

        // Row groups ⌊r·G/O⌋ from int64 scalars (shape-like constants).
        string range = context.UniqueName("rows");
        context.AddNode("Range", [Initializers.Int64Scalar(context, "zero", 0), Initializers.Int64Scalar(context, "row_count", rows), Initializers.Int64Scalar(context, "one", 1)], [range]);
        string times = context.UniqueName("rows_times_groups");
        context.AddNode("Mul", [range, Initializers.Int64Scalar(context, "group_count", layer.Groups)], [times]);
        string groups = context.UniqueName("row_groups");
        context.AddNode("Div", [times, Initializers.Int64Scalar(context, "row_count", rows)], [groups]);

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
            context.AddNode("Mul", [groups, Initializers.Int64Scalar(context, "codebook_size", k)], [offsets]);
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

    private static string Axes(ILoweringContext context) => Initializers.Int64(context, "axes", [1], 1);

    private static Dictionary<string, object> Attr(string name, long value) => new() { [name] = value };
}
