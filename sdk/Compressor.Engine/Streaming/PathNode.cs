using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>One segment of a block's name above the block (<c>model</c>, <c>layers</c> of <c>model.layers.3</c>), so
/// that a block held alone keeps the fully qualified layer names of the whole model. Runs its single child.</summary>
internal sealed class PathNode : LayerContainer
{
    private readonly string _child;

    public PathNode(string child, nn.Module module) : base("path")
    {
        _child = child;
        register_module(child, module);
    }

    public override Tensor forward(Tensor input) => Child(_child).forward(input);
}
