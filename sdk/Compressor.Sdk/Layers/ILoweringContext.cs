namespace Compressor.Sdk.Layers;

/// <summary>What a lowering may do to the graph being built.</summary>
public interface ILoweringContext
{
    /// <summary>The fully qualified name of the layer being lowered (for naming initializers).</summary>
    string LayerName { get; }

    /// <summary>A value name not used yet, derived from <paramref name="hint"/>.</summary>
    string UniqueName(string hint);

    /// <summary>Adds a constant tensor.</summary>
    void AddInitializer(OnnxInitializer initializer);

    /// <summary>Adds a node.</summary>
    /// <param name="opType">Operator, e.g. <c>DequantizeLinear</c>.</param>
    /// <param name="inputs">Input value names (empty string for an omitted optional input).</param>
    /// <param name="outputs">Output value names.</param>
    /// <param name="attributes">Attributes: long, float, string, long[], float[] values.</param>
    /// <param name="domain">Operator domain ("" for ai.onnx, "com.microsoft" for ORT contrib ops).</param>
    void AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs,
        IReadOnlyDictionary<string, object>? attributes = null, string domain = "");

    /// <summary>Declares that the graph needs at least <paramref name="version"/> of <paramref name="domain"/>'s opset.</summary>
    void RequireOpset(string domain, int version);

    /// <summary>What the export is optimised for (<c>--target size|speed</c>): a lowering with an integer-kernel form
    /// writes it for <see cref="ExportTarget.Speed"/>. A context that does not implement this
    /// member (written against SDK 2.0.0) reports <see cref="ExportTarget.Size"/>.</summary>
    ExportTarget Target => ExportTarget.Size;

    /// <summary>Tokens per inference call the export is made for (<c>compress export --deploy-tokens N</c>; 1 for a
    /// decoder's decoding steps), so that a lowering with shape-dependent forms picks the faster one at that shape (a
    /// structured linear: its factors or their merged dense product). 0: not given, every layer keeps the form its
    /// checkpoint records; the decision is the export's, so a checkpoint does not depend on the machine that made it.
    /// A context that does not implement this member (written against SDK 2.0.0) reports 0.</summary>
    int DeployTokens => 0;
}
