using Onnx;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Typed access to a node's attributes, with ONNX defaults and one-line errors.</summary>
internal sealed class OnnxAttributes
{
    private readonly Dictionary<string, AttributeProto> _byName;
    private readonly string _node;

    public OnnxAttributes(NodeProto node, string nodeLabel)
    {
        _node = nodeLabel;
        _byName = new Dictionary<string, AttributeProto>(StringComparer.Ordinal);
        foreach (var a in node.Attribute) _byName[a.Name] = a;
    }

    public bool Has(string name) => _byName.ContainsKey(name);

    public long Int(string name, long fallback) => _byName.TryGetValue(name, out var a) ? a.I : fallback;

    public float Float(string name, float fallback) => _byName.TryGetValue(name, out var a) ? a.F : fallback;

    public string String(string name, string fallback) => _byName.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : fallback;

    public long[]? Ints(string name) => _byName.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;

    public float[]? Floats(string name) => _byName.TryGetValue(name, out var a) ? a.Floats.ToArray() : null;

    public TensorProto? TensorValue(string name) => _byName.TryGetValue(name, out var a) ? a.T : null;

    public CompressException Unsupported(string what) =>
        new(ErrorKind.InvalidInput, $"ONNX node {_node}: {what} is not supported");
}
