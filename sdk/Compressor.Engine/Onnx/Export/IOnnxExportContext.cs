using static TorchSharp.torch;
using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Export;

/// <summary>What an <see cref="IOnnxExportable"/> module (or a leaf emitter) may do to the graph being built. The
/// context is positioned at one module: <see cref="ModuleName"/> is its fully qualified name, and names it hands
/// out start with it.</summary>
public interface IOnnxExportContext
{
    /// <summary>The fully qualified name of the module being emitted ("" for the root).</summary>
    string ModuleName { get; }

    /// <summary>The module being emitted.</summary>
    nn.Module Module { get; }

    /// <summary>The <c>ai.onnx</c> opset the model will declare (at least what every emitter required so far).</summary>
    int Opset { get; }

    /// <summary>Emits child <paramref name="childName"/> of <see cref="Module"/> (as registered, e.g. <c>"layers"</c> or
    /// <c>"0"</c>; a dotted path such as <c>"encoder.layer.0.query"</c> reaches a descendant) on
    /// <paramref name="inputs"/>; returns its output value names.</summary>
    /// <exception cref="CompressException">No way to export the child (kind <see cref="ErrorKind.VerificationFailed"/>).</exception>
    IReadOnlyList<string> EmitChild(string childName, IReadOnlyList<string> inputs);

    /// <summary>A value (or node) name not used yet: <see cref="ModuleName"/> + "/" + <paramref name="hint"/>, with a
    /// numeric suffix when taken.</summary>
    string UniqueName(string hint);

    /// <summary>Adds a node and returns its first output's name.</summary>
    /// <param name="opType">Operator, e.g. <c>MatMul</c>.</param>
    /// <param name="inputs">Input value names ("" for an omitted optional input).</param>
    /// <param name="outputs">Output value names (from <see cref="UniqueName"/>).</param>
    /// <param name="attributes">Attributes: long, float, string, long[] or float[] values, written in key order.</param>
    /// <param name="domain">"" for ai.onnx, <c>com.microsoft</c> for ORT contrib ops.</param>
    string AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs,
        IReadOnlyDictionary<string, object>? attributes = null, string domain = "");

    /// <summary>Adds a node with one fresh output named after <paramref name="opType"/>; returns the output name.</summary>
    string AddNode(string opType, params string[] inputs);

    /// <summary>Adds an initializer holding a copy of <paramref name="tensor"/> (float32, int64, int32, uint8 or int8),
    /// named <see cref="ModuleName"/> + "." + <paramref name="localName"/>; returns its name.</summary>
    string AddTensor(string localName, Tensor tensor);

    /// <summary>Adds a raw initializer (its name taken as given); returns its name.</summary>
    string AddInitializer(OnnxInitializer initializer);

    /// <summary>Adds (or reuses) an int64 constant initializer of shape [values.Length]; returns its name.</summary>
    string Int64Constant(params long[] values);

    /// <summary>Adds (or reuses) a float scalar constant initializer; returns its name.</summary>
    string FloatConstant(float value);

    /// <summary>Adds a copy of <paramref name="node"/>, an ai.onnx node written for opset
    /// <paramref name="sourceOpset"/> (e.g. from an imported graph), with its names and attributes as they are. When
    /// the model is finished, the node is converted to the opset the model declares where ONNX changed the operator's
    /// signature in between (attributes that became inputs, and the like; see <see cref="OnnxOpsetUpgrade"/>).</summary>
    /// <exception cref="CompressException">Later, when the export finishes: an operator whose change has no
    /// conversion (kind <see cref="ErrorKind.VerificationFailed"/>).</exception>
    void AddSourceNode(global::Onnx.NodeProto node, int sourceOpset);

    /// <summary>Declares that the graph needs at least <paramref name="version"/> of <paramref name="domain"/>.</summary>
    void RequireOpset(string domain, int version);
}
