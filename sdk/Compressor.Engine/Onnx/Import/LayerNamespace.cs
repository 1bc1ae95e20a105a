using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>An inner node of an imported graph's module tree: it only groups replaceable layers and weight buffers
/// under a dotted name (<c>encoder.layer.0.attention</c>) so that they are addressable and replaceable, and it is
/// never run itself.</summary>
internal sealed class LayerNamespace : LayerContainer
{
    public LayerNamespace() : base(nameof(LayerNamespace)) { }

    public override Tensor forward(Tensor input) =>
        throw new InvalidOperationException("a layer namespace of an imported ONNX graph is not a layer and cannot run");
}
