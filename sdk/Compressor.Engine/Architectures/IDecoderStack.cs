using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A decoder-only language model laid out as input embeddings, then <see cref="Layers"/> blocks that each map
/// hidden states [B, T, D] to hidden states of the same shape on their own (positions derived from the sequence, no
/// state shared between blocks), then a head (final normalisation and output projection) — the shape that lets a run
/// hold one block at a time (the streamed checkpoint of <c>Compressor.Engine.Streaming</c>). The built-in GPT-2 and Llama-family modules
/// implement it; <c>forward(ids)</c> equals <c>Head(blocks(Embed(ids)))</c>.</summary>
public interface IDecoderStack
{
    /// <summary>Number of blocks.</summary>
    int Layers { get; }

    /// <summary>The fully qualified module name of block <paramref name="index"/> (e.g. <c>model.layers.3</c>).</summary>
    string BlockName(int index);

    /// <summary>Token ids [B, T] → the first block's input [B, T, D] (token, and for GPT-2 position, embeddings).</summary>
    Tensor Embed(Tensor ids);

    /// <summary>The last block's output [B, T, D] → logits [B, T, V] (final normalisation, then the output head,
    /// tied to the token embedding where the model ties it).</summary>
    Tensor Head(Tensor hidden);
}
