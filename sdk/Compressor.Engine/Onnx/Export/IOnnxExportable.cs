using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Export;

/// <summary>A module that emits its own ONNX graph: containers (<see cref="Architectures.LayerList"/>, an architecture's
/// root, a transformer block) implement it; leaf layers (linear, conv, activations, …) are emitted by the
/// exporter's built-in emitters and compressed layers by their kind's lowering (<see cref="Sdk.Layers.ILayerKind.Lower"/>).
/// <para>The contract: <see cref="ExportOnnx"/> receives the names of the ONNX values that carry this module's
/// forward inputs, in the order <c>forward</c> takes them, adds nodes (through the context) that
/// compute exactly what <c>forward</c> computes in evaluation mode, and returns the names of the values holding the
/// outputs, in order. Children are emitted with <see cref="IOnnxExportContext.EmitChild"/>, which names their
/// initializers after their fully qualified module names and dispatches to whatever lowers them (so a child a
/// plugin replaced is lowered as its compressed form, with no change to the parent). Emit nodes in a fixed order
/// and take names only from <see cref="IOnnxExportContext.UniqueName"/>: the exported bytes must depend on
/// nothing but the model.</para></summary>
public interface IOnnxExportable
{
    /// <summary>Adds this module's nodes; returns its output value names.</summary>
    /// <param name="context">The graph being built, positioned at this module (its name prefixes new values).</param>
    /// <param name="inputs">Value names of the forward inputs.</param>
    IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs);
}
