using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Computes a node's outputs from its inputs (null for an omitted optional input). Returns one fresh tensor
/// per declared output (never one of its inputs: an unchanged value is returned as an alias).</summary>
internal delegate Tensor[] OnnxKernel(OnnxNode node, Tensor?[] inputs, OnnxRunContext context);

/// <summary>One step of an imported graph's execution plan: an ONNX node (or a MatMul/Gemm/Conv/Gather fused with its
/// constant operands into a call of a replaceable layer).</summary>
internal sealed class OnnxNode
{
    public OnnxNode(string opType, string label, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, OnnxAttributes attributes, int opset, OnnxKernel kernel)
    {
        OpType = opType;
        Label = label;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
        Opset = opset;
        Kernel = kernel;
    }

    /// <summary>The ONNX operator.</summary>
    public string OpType { get; }

    /// <summary>The node's name (or its index when unnamed) and operator, for error messages.</summary>
    public string Label { get; }

    /// <summary>Input value names ("" for omitted optional inputs).</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Output value names ("" for omitted optional outputs).</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The node's attributes.</summary>
    public OnnxAttributes Attributes { get; }

    /// <summary>The version of the default (ai.onnx) opset the model imports.</summary>
    public int Opset { get; }

    /// <summary>What computes the outputs.</summary>
    public OnnxKernel Kernel { get; }

    /// <summary>Values whose last use is this node: disposed right after it runs (unless they are graph outputs or
    /// weights).</summary>
    public List<string> DeadAfter { get; } = [];

    /// <summary>A one-line error about this node.</summary>
    public CompressException Error(string what) => new(ErrorKind.InvalidInput, $"ONNX node {Label}: {what}");
}
