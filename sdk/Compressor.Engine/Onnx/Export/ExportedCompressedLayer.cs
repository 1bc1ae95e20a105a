using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Export;

/// <summary>A compressed layer as exported: the initializers its lowering wrote and the bytes theory says they need.</summary>
/// <param name="Name">The layer's fully qualified name.</param>
/// <param name="Kind">Its compressed layer kind.</param>
/// <param name="Initializers">Names of the initializers its lowering added (codes, scales, zero points, bias), less
/// int64 shape/axes tensors.</param>
/// <param name="Output">The graph value holding the layer's output (for per-layer parity).</param>
/// <param name="TheoreticalBytes">Codes·bits/8 + scales + zero points (<see cref="Sdk.Layers.ICompressedLayer.WeightStorageBits"/>)
/// plus the float32 bias.</param>
public sealed record ExportedCompressedLayer(string Name, string Kind, IReadOnlyList<string> Initializers, string Output, long TheoreticalBytes);
