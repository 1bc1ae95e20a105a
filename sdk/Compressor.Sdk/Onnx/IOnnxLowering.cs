using TorchSharp;

namespace Compressor.Sdk.Onnx;

/// <summary>Emits the ONNX nodes of one compressed layer kind. The exporter walks the model, and for every layer
/// whose <see cref="Compression.ICompressedLayer.Kind"/> equals <see cref="LayerKind"/> it calls
/// <see cref="Lower"/> with the name of the layer's input value and the name its output must have. Lowering code
/// lives apart from the algorithm: the algorithm never depends on ONNX.</summary>
public interface IOnnxLowering
{
    /// <summary>The compressed layer kind id this lowering handles.</summary>
    string LayerKind { get; }

    /// <summary>Adds the initializers and nodes that compute <paramref name="output"/> from <paramref name="input"/>.</summary>
    void Lower(ILoweringContext context, torch.nn.Module layer, string input, string output);
}
