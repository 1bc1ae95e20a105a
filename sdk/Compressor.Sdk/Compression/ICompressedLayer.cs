using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Sdk.Compression;

/// <summary>A layer whose tensors are a compressed representation (packed codes, scales, codebooks, factors). Its
/// registered buffers and parameters are exactly what the compressed checkpoint stores; <see cref="Kind"/> and
/// <see cref="Config"/> are what its manifest entry stores, so that <see cref="ICompressedLayerFactory"/> can
/// rebuild an empty layer of the right shapes before the tensors are loaded.</summary>
public interface ICompressedLayer
{
    /// <summary>The layer kind id, e.g. <c>quantized_linear</c>; a factory of that id must be registered.</summary>
    string Kind { get; }

    /// <summary>Everything besides the tensors needed to rebuild the layer (sizes, bits, group size, …).</summary>
    JObject Config { get; }

    /// <summary>Shape of the dense weight this layer replaces.</summary>
    long[] DenseWeightShape { get; }

    /// <summary>The dense weight this layer computes with (dequantized / materialised), for reports and checks.</summary>
    Tensor DenseWeight();

    /// <summary>Theoretical storage in bits of everything that stands for the weight (codes, scales, zero points,
    /// codebooks, factors, index overhead) — not the bias, which stays in floating point.</summary>
    long WeightStorageBits { get; }
}
