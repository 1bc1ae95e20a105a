using Compressor.Layers.Codebook;
using Compressor.Layers.Integer;
using Compressor.Layers.Quantized;
using Compressor.Layers.Structured;
using Compressor.Sdk.Layers;

namespace Compressor.Layers;

/// <summary>The kinds this library declares, for hosts to combine with the kinds plugins hand in.</summary>
public static class BuiltInLayerKinds
{
    /// <summary>Every kind of the library: group-quantized (linear, conv2d, embedding), codebook (linear, conv2d),
    /// low-rank, block-shuffle, block-dense and top-k masked linears, and integer (W8A8) linear and conv2d.</summary>
    public static IReadOnlyList<ILayerKind> All { get; } = [.. QuantizedKinds.All, .. CodebookKinds.All, .. StructuredKinds.All, .. IntegerKinds.All];
}
