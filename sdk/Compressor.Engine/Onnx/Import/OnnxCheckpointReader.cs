using Compressor.Engine.Storage;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Reads an ONNX model's initializers as named tensors (for <c>compress inspect</c>); the parsed model is
/// kept for <c>Compressor.Engine.Checkpoints.ModelIO.Load</c>, which imports the graph. Metadata: <c>onnx.ir_version</c>,
/// <c>onnx.opset</c>, <c>onnx.producer</c>, and the model's own <c>metadata_props</c>.</summary>
public sealed class OnnxCheckpointReader : ICheckpointReader
{
    private readonly Dictionary<string, TensorProto> _byName;

    private OnnxCheckpointReader(string path, ModelProto model)
    {
        Path = path;
        Model = model;
        _byName = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        var entries = new List<CheckpointEntry>();
        foreach (var init in model.Graph.Initializer)
        {
            if (!_byName.TryAdd(init.Name, init)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: initializer '{init.Name}' is defined twice");
            var type = OnnxTensorConversion.ScalarTypeOf(init, $"{path}: initializer '{init.Name}'");
            var shape = init.Dims.ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            entries.Add(new CheckpointEntry(init.Name, OnnxTensorConversion.NameOf(init.DataType), type, shape, count * OnnxTensorConversion.ElementSize(type)));
        }
        Tensors = entries;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["onnx.ir_version"] = model.IrVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["onnx.opset"] = string.Join(",", model.OpsetImport.Select(o => (o.Domain.Length == 0 ? "ai.onnx" : o.Domain) + ":" + o.Version)),
            ["onnx.producer"] = (model.ProducerName + " " + model.ProducerVersion).Trim(),
        };
        foreach (var p in model.MetadataProps) metadata[p.Key] = p.Value;
        Metadata = metadata;
    }

    /// <summary>Opens and parses <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">Unreadable or not an ONNX model, in one line.</exception>
    public static OnnxCheckpointReader Open(string path) => new(path, OnnxImporter.ReadModel(path));

    /// <summary>The parsed model.</summary>
    public ModelProto Model { get; }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public string Format => "onnx";

    /// <inheritdoc/>
    public IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public Tensor Read(string name) => _byName.TryGetValue(name, out var p)
        ? OnnxTensorConversion.ToTensor(p, $"{Path}: initializer '{name}'", System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)))
        : throw new CompressException(ErrorKind.InvalidInput, $"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public void Dispose() { }
}
