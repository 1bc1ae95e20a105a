namespace Compressor.Engine.Onnx.Export;

/// <summary>A root module that can be exported as a whole ONNX model: besides emitting its graph
/// (<see cref="IOnnxExportable"/>) it declares the graph's inputs and outputs. Built-in architectures implement it;
/// so must any architecture that wants <c>compress run</c> and <c>compress export</c> to write <c>model.onnx</c>.</summary>
public interface IOnnxExportableModel : IOnnxExportable
{
    /// <summary>The graph inputs, in the order <c>forward</c> takes them (names, element types, shapes with
    /// symbolic dimensions, and the example sizes verification feeds).</summary>
    IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    /// <summary>The graph outputs, in the order <see cref="IOnnxExportable.ExportOnnx"/> returns them.</summary>
    IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    /// <summary>The <c>ai.onnx</c> opset the model's own nodes are written for (an imported graph's), or null for a
    /// model that emits its graph through the context's current operators. When set, the exporter declares this
    /// opset (at least 13, the lowest its compatibility table covers) raised only as far as the emitted layers
    /// need, and converts nodes added with <see cref="IOnnxExportContext.AddSourceNode"/> to that opset.</summary>
    int? SourceOpset => null;
}
