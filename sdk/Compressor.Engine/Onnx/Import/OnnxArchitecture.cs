using Compressor.Engine.Architectures;
using Compressor.Engine.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Engine.Onnx.Import;

/// <summary>The architecture of an imported ONNX model, registered as <c>onnx</c>: its config holds the whole graph
/// with the initializers' data stripped (names, shapes, types and Constant nodes kept), serialized as ONNX protobuf
/// and base64-encoded under <c>graph</c>. A checkpoint saved from an imported model therefore carries its own
/// structure in the safetensors metadata and all of its tensors (layers, possibly compressed, and buffers) in the
/// file: <c>Compressor.Engine.Checkpoints.ModelIO.Load</c> rebuilds the module from the graph and loads the tensors by name,
/// with no other flag and without the original ONNX file.</summary>
public sealed class OnnxArchitecture : IArchitecture
{
    /// <summary>The registered name.</summary>
    public const string ArchitectureName = "onnx";

    /// <summary>The config key holding the base64 graph.</summary>
    public const string GraphKey = "graph";

    /// <inheritdoc/>
    public string Name => ArchitectureName;

    /// <inheritdoc/>
    public string Description => "an imported ONNX graph (the graph travels in the checkpoint's metadata)";

    /// <summary>The spec of <paramref name="module"/>.</summary>
    public static ArchitectureSpec SpecOf(OnnxModule module) =>
        new(ArchitectureName, new JObject { [GraphKey] = Convert.ToBase64String(module.GraphWithoutWeightsBytes.Span) });

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        if (config?[GraphKey] is not JValue { Type: JTokenType.String } v || ((string?)v)?.Length is null or 0)
            throw new CompressException(ErrorKind.InvalidInput, "architecture onnx needs its graph (config key 'graph', base64 ONNX); it cannot be chosen with --arch");
        foreach (var p in config.Properties())
            if (p.Name != GraphKey) throw new CompressException(ErrorKind.InvalidOptions, $"architecture onnx: unknown config key '{p.Name}' (known: {GraphKey})");
        return (JObject)config.DeepClone();
    }

    /// <inheritdoc/>
    public torch.nn.Module Create(JObject config)
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String((string)config[GraphKey]!); }
        catch (FormatException) { throw new CompressException(ErrorKind.InvalidInput, "architecture onnx: the graph is not valid base64"); }
        var model = OnnxImporter.ParseModel(bytes, "architecture onnx graph");
        return OnnxImporter.Build(model, withWeights: false, baseDirectory: null, what: "architecture onnx graph");
    }
}
