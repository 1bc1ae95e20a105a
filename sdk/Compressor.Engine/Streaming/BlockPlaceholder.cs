using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>Stands where a block was taken out of a model (the shell of a streamed run, the one-block factory): it
/// holds no layers and no tensors, and refuses to run.</summary>
internal sealed class BlockPlaceholder : LayerContainer
{
    public BlockPlaceholder() : base("streamed_block") { }

    public override Tensor forward(Tensor input) =>
        throw new InvalidOperationException("a streamed block is not loaded here: run the blocks one at a time");
}
