using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>Builds small ONNX models with OnnxSharp for importer tests.</summary>
internal static class OnnxGraphs
{
    public static ModelProto Model(int opset, IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> inputs, IEnumerable<ValueInfoProto> outputs,
        IEnumerable<TensorProto>? initializers = null)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.AddRange(outputs);
        if (initializers is not null) graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 8, ProducerName = "compress-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    /// <summary>A float (or other element type) value with a shape whose entries are sizes or symbolic names.</summary>
    public static ValueInfoProto Value(string name, int elemType, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } } };
    }

    public static ValueInfoProto Float(string name, params object[] dims) => Value(name, (int)TensorProto.Types.DataType.Float, dims);

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>An initializer holding <paramref name="t"/> (float32 or int64) as raw data.</summary>
    public static TensorProto Init(string name, Tensor t)
    {
        using var c = t.cpu().contiguous();
        var p = new TensorProto
        {
            Name = name,
            DataType = c.dtype == ScalarType.Int64 ? (int)TensorProto.Types.DataType.Int64 : (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(c.bytes),
        };
        p.Dims.AddRange(c.shape);
        return p;
    }
}
