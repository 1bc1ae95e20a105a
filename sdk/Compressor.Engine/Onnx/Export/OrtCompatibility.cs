using Onnx;
using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Export;

/// <summary>What ONNX Runtime 1.31 runs on CPU (its kernel table, spot-checked by the engine's tests with
/// Microsoft.ML.OnnxRuntime 1.31.1; see Onnx/README.md): for every operator the exporter or a plugin lowering may write,
/// the opset it appeared in and the element types its statically typed inputs (initializers and graph inputs) may
/// have. <see cref="Check"/> runs before any file is written.</summary>
public static class OrtCompatibility
{
    /// <summary>The ONNX Runtime version the table describes.</summary>
    public const string RuntimeVersion = "1.31";

    /// <summary>The highest <c>ai.onnx</c> opset ORT 1.31 implements.</summary>
    public const int MaximumOpset = 25;

    /// <summary>The highest IR version ORT 1.31 reads.</summary>
    public const long MaximumIrVersion = 13;

    private static readonly int[] Float = [OnnxDataType.Float];
    private static readonly int[] Indices = [OnnxDataType.Int64, OnnxDataType.Int32];
    private static readonly int[] Shape = [OnnxDataType.Int64];
    private static readonly int[] Numeric = [OnnxDataType.Float, OnnxDataType.Double, OnnxDataType.Float16, OnnxDataType.Int64, OnnxDataType.Int32];
    private static readonly int[] Quantized8 = [OnnxDataType.Int8, OnnxDataType.UInt8, OnnxDataType.Int32];

    /// <summary>One operator: the opset it needs and, per input position, the allowed element types (null: any; a
    /// position past the list: as the last entry).</summary>
    private sealed record Op(int Since, params int[]?[]? Inputs);

    private static readonly Dictionary<(string Domain, string OpType), Op> Table = new()
    {
        [("", "Add")] = new(13, Numeric), [("", "Sub")] = new(13, Numeric), [("", "Mul")] = new(13, Numeric), [("", "Div")] = new(13, Numeric),
        [("", "MatMul")] = new(13, Float), [("", "Gemm")] = new(13, Float),
        [("", "Conv")] = new(11, Float),
        [("", "Relu")] = new(13, Float), [("", "Max")] = new(13, Float), [("", "Tanh")] = new(13, Float), [("", "Sigmoid")] = new(13, Float), [("", "Erf")] = new(13, Float),
        [("", "Softmax")] = new(13, Float), [("", "Gelu")] = new(20, Float),
        [("", "LayerNormalization")] = new(17, Float),
        [("", "Flatten")] = new(13, null), [("", "Identity")] = new(13, null),
        [("", "Reshape")] = new(13, null, Shape), [("", "Transpose")] = new(13, null),
        [("", "ReduceMean")] = new(13, Float, Shape),
        [("", "Gather")] = new(13, null, Indices),
        [("", "Cast")] = new(13, null),
        [("", "Concat")] = new(13, null), [("", "Slice")] = new(13, null, Indices),
        [("", "DequantizeLinear")] = new(13, null, Float, null),
        [("", "QuantizeLinear")] = new(13, Float, Float, null),
        [("", "TopK")] = new(11, Float, Shape),
        // Operators of imported graphs re-emitted as they were (MiniLM, ResNet18 and the like) and the shape arithmetic of
        // the built-in transformers (token expansion, causal-mask slicing, positions).
        [("", "Constant")] = new(13), [("", "ConstantOfShape")] = new(13, Shape), [("", "Shape")] = new(13),
        [("", "Unsqueeze")] = new(13, null, Shape), [("", "Squeeze")] = new(13, null, Shape), [("", "Expand")] = new(13, null, Shape),
        [("", "Split")] = new(13, null, Shape), [("", "Tile")] = new(13, null, Shape), [("", "Range")] = new(13, Numeric),
        [("", "Trilu")] = new(14, Float, Shape),
        [("", "Pad")] = new(13, Float, Shape, Float), [("", "Where")] = new(13), [("", "Not")] = new(13), [("", "Or")] = new(7),
        [("", "Equal")] = new(13, Numeric), [("", "Less")] = new(13, Numeric), [("", "Greater")] = new(13, Numeric),
        [("", "Pow")] = new(13, Numeric), [("", "Sqrt")] = new(13, Float), [("", "Exp")] = new(13, Float), [("", "Log")] = new(13, Float),
        [("", "Cos")] = new(7, Float), [("", "Sin")] = new(7, Float),
        [("", "Neg")] = new(13, Numeric), [("", "Abs")] = new(13, Numeric), [("", "Reciprocal")] = new(13, Float),
        [("", "Min")] = new(13, Numeric), [("", "Sum")] = new(13, Float), [("", "Mean")] = new(13, Float), [("", "Clip")] = new(13, [OnnxDataType.Float, OnnxDataType.UInt8, OnnxDataType.Int8]),
        [("", "LeakyRelu")] = new(13, Float), [("", "Softplus")] = new(13, Float), [("", "LogSoftmax")] = new(13, Float),
        [("", "ReduceSum")] = new(13, Numeric, Shape), [("", "ReduceMax")] = new(13, Numeric, Shape), [("", "ReduceMin")] = new(13, Numeric, Shape),
        [("", "BatchNormalization")] = new(13, Float), [("", "MaxPool")] = new(13, Float), [("", "AveragePool")] = new(13, Float),
        [("", "GlobalAveragePool")] = new(13, Float), [("", "GlobalMaxPool")] = new(13, Float), [("", "ArgMax")] = new(13, Numeric),
        [("", "CastLike")] = new(15), [("", "Size")] = new(13), [("", "Einsum")] = new(13, Float),
        // Integer unpacking of packed embedding rows (QuantizedEmbeddingLowering): int64 Div/Mod/Add/Sub.
        [("", "Mod")] = new(13, Numeric),
        // Integer kernels (IntegerLowering, speed exports): uint8/int8 operands, int32 accumulators.
        [("", "DynamicQuantizeLinear")] = new(11, Float), [("", "MatMulInteger")] = new(10, Quantized8), [("", "ConvInteger")] = new(10, Quantized8),
        [("", "QLinearConv")] = new(10, Quantized8, Float, Quantized8, Quantized8, Float, Quantized8, Float, Quantized8, [OnnxDataType.Int32]),
        [("com.microsoft", "MatMulIntegerToFloat")] = new(1, Quantized8, Quantized8, Float, Float, Quantized8, Quantized8, Float),
        [("com.microsoft", "MatMulNBits")] = new(1, Float, [OnnxDataType.UInt8], Float, null),
        // Unpacking of densely packed 3/5/6/7-bit codes and indices (Compressor.Layers DenseUnpacking): uint8 bytes.
        [("", "BitShift")] = new(11, [OnnxDataType.UInt8]), [("", "BitwiseAnd")] = new(18, [OnnxDataType.UInt8]), [("", "BitwiseOr")] = new(18, [OnnxDataType.UInt8]),
    };

    /// <summary>Element types ORT's CPU DequantizeLinear takes, with the opset each first appears in.</summary>
    private static readonly Dictionary<int, int> DequantizeTypes = new()
    {
        [OnnxDataType.Int8] = 13, [OnnxDataType.UInt8] = 13, [OnnxDataType.Int32] = 13,
        [OnnxDataType.Int4] = 21, [OnnxDataType.UInt4] = 21, [OnnxDataType.Int2] = 25, [OnnxDataType.UInt2] = 25,
    };

    /// <summary>The operators the table knows, as "domain:OpType" ("" domain is ai.onnx).</summary>
    public static IReadOnlyList<string> KnownOperators => Table.Keys.Select(k => $"{k.Domain}:{k.OpType}").Order(StringComparer.Ordinal).ToList();

    /// <summary>Every problem ORT 1.31 CPU would have with <paramref name="model"/> (empty: compatible).</summary>
    public static IReadOnlyList<string> Check(ModelProto model)
    {
        var problems = new List<string>();
        if (model.IrVersion > MaximumIrVersion) problems.Add($"IR version {model.IrVersion} > {MaximumIrVersion}");
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var o in model.OpsetImport)
        {
            string domain = o.Domain == "ai.onnx" ? "" : o.Domain;
            opsets[domain] = o.Version;
        }
        if (!opsets.TryGetValue("", out long onnxOpset)) problems.Add("no ai.onnx opset import");
        else if (onnxOpset > MaximumOpset) problems.Add($"ai.onnx opset {onnxOpset} > {MaximumOpset}");

        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in model.Graph.Initializer) types[t.Name] = t.DataType;
        foreach (var i in model.Graph.Input)
            if (i.Type?.TensorType is { } tt) types[i.Name] = tt.ElemType;
        foreach (var t in model.Graph.Initializer)
            if (OnnxDataType.BitsOf(t.DataType) == 0) problems.Add($"initializer '{t.Name}' has element type {t.DataType}, which the exporter does not write");

        foreach (var node in model.Graph.Node)
        {
            string domain = node.Domain == "ai.onnx" ? "" : node.Domain;
            string where = $"{(domain.Length == 0 ? "" : domain + ".")}{node.OpType} '{node.Name}'";
            if (!Table.TryGetValue((domain, node.OpType), out var op))
            {
                problems.Add($"{where}: operator not in the ORT {RuntimeVersion} CPU table");
                continue;
            }
            if (!opsets.TryGetValue(domain, out long version))
            {
                problems.Add($"{where}: domain '{domain}' is not imported");
                continue;
            }
            if (version < op.Since) problems.Add($"{where}: needs opset {op.Since}, the model imports {version}");
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i].Length == 0 || !types.TryGetValue(node.Input[i], out int type)) continue;
                var allowed = op.Inputs is null || op.Inputs.Length == 0 ? null : op.Inputs[Math.Min(i, op.Inputs.Length - 1)];
                if (allowed is not null && !allowed.Contains(type))
                    problems.Add($"{where}: input {i} '{node.Input[i]}' is {OnnxDataType.Name(type)}, ORT CPU takes {string.Join("/", allowed.Select(OnnxDataType.Name))}");
            }
            if (domain.Length == 0 && node.OpType is "DequantizeLinear" or "QuantizeLinear")
                CheckQuantize(node, where, version, types, problems);
        }
        return problems;
    }

    private static void CheckQuantize(NodeProto node, string where, long opset, Dictionary<string, int> types, List<string> problems)
    {
        bool dq = node.OpType == "DequantizeLinear";
        int quantized = dq ? 0 : 2;   // DQ: x is quantized; Q: the zero point (and output) is
        string? name = node.Input.Count > quantized ? node.Input[quantized] : null;
        if (name is not null && name.Length > 0 && types.TryGetValue(name, out int type))
        {
            if (!DequantizeTypes.TryGetValue(type, out int since)) problems.Add($"{where}: {OnnxDataType.Name(type)} is not a quantized type ORT CPU takes");
            else if (opset < since) problems.Add($"{where}: {OnnxDataType.Name(type)} needs opset {since}, the model imports {opset}");
            if (dq && node.Input.Count > 2 && node.Input[2].Length > 0 && types.TryGetValue(node.Input[2], out int zp) && zp != type)
                problems.Add($"{where}: zero point is {OnnxDataType.Name(zp)}, the codes {OnnxDataType.Name(type)}");
            if (!Quantized8.Contains(type) && !dq) problems.Add($"{where}: QuantizeLinear to {OnnxDataType.Name(type)} is not exported");
        }
        var block = node.Attribute.FirstOrDefault(a => a.Name == "block_size");
        if (block is not null && block.I != 0 && opset < 21) problems.Add($"{where}: blocked quantization needs opset 21, the model imports {opset}");
    }
}
