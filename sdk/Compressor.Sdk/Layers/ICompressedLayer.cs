using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>A layer whose tensors are a compressed representation (packed codes, scales, codebooks, factors). Its
/// registered buffers and parameters are exactly what the compressed checkpoint stores; <see cref="Kind"/> and
/// <see cref="Config"/> are what the checkpoint's manifest stores, so that the kind's <see cref="ILayerKind.Create"/>
/// rebuilds an empty layer of the right shapes before the tensors are loaded by name.</summary>
public interface ICompressedLayer
{
    /// <summary>The id of the layer's kind, e.g. <c>quantized_linear</c> (<see cref="ILayerKind.Id"/>).</summary>
    string Kind { get; }

    /// <summary>Everything besides the tensors needed to rebuild the layer (sizes, bits, group size, …): an instance of
    /// the kind's <see cref="ILayerKind.ConfigType"/>, a record the host serialises to JSON.</summary>
    object Config { get; }

    /// <summary>Shape of the dense weight this layer replaces.</summary>
    long[] DenseWeightShape { get; }

    /// <summary>The dense weight this layer computes with (dequantized / materialised), for reports and checks; a new
    /// tensor the caller disposes.</summary>
    Tensor DenseWeight();

    /// <summary>Theoretical storage in bits of everything that stands for the weight (codes, scales, zero points,
    /// codebooks, factors, index overhead) — not the bias, which stays in floating point.</summary>
    long WeightStorageBits { get; }
}
