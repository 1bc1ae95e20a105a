namespace Compressor.Sdk.Onnx.Export;

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
}
