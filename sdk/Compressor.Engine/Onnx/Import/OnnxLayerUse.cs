namespace Compressor.Engine.Onnx.Import;

/// <summary>How one node of an imported graph calls a replaceable layer, kept so that the export can re-emit the
/// node (see <see cref="OnnxModule"/>'s <c>ExportOnnx</c>).</summary>
/// <param name="Node">The index of the MatMul, Gemm, Conv or Gather node in the original graph.</param>
/// <param name="Path">The layer's dotted name.</param>
/// <param name="Input">The value the layer reads (the activations, or the indices of a Gather).</param>
/// <param name="Output">The value the layer produces (the Add's output for a MatMul fused with its bias Add).</param>
/// <param name="FusedAdd">The index of the bias Add fused into the layer, or null.</param>
/// <param name="ExtraPads">For a Conv: the one-sided padding [top, left, bottom, right] applied before the layer
/// (zeros when symmetric), or null when it is computed per call (<c>auto_pad</c> SAME).</param>
internal sealed record OnnxLayerUse(int Node, string Path, string Input, string Output, int? FusedAdd, long[]? ExtraPads);
