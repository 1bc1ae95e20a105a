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

    /// <summary>The key/value-cache graph (<see cref="Onnx.Export.DecoderCacheNames"/>) up to the first block, for a
    /// model of <paramref name="layers"/> blocks whose blocks are run one at a time (<see cref="BlockCached"/>):
    /// the graph inputs with the omitted ones defaulted → the first block's input and what every block takes beside
    /// its hidden states (rotary angles, the additive mask). <c>RunGraph</c> equals this, then every block, then
    /// <see cref="Head"/>.</summary>
    DecoderCacheStart StartCached(IReadOnlyDictionary<string, Tensor> inputs, int layers);

    /// <summary>Block <paramref name="block"/> (a module of this architecture's block type, possibly held alone) of the
    /// key/value-cache graph on <paramref name="hidden"/> with the past of its layer <paramref name="index"/>: its
    /// output hidden states and present key and value.</summary>
    (Tensor Hidden, Tensor Key, Tensor Value) BlockCached(TorchSharp.torch.nn.Module block, DecoderCacheStart start, Tensor hidden, int index);
}

/// <summary>The key/value-cache graph's state before the first block (<see cref="IDecoderStack.StartCached"/>).</summary>
/// <param name="Hidden">The first block's input [B, S, D].</param>
/// <param name="Side">What every block takes beside its hidden states (Llama: cos, sin, mask; GPT-2: mask).</param>
/// <param name="Past">Every layer's past (key, value).</param>
public sealed record DecoderCacheStart(Tensor Hidden, IReadOnlyList<Tensor> Side, IReadOnlyList<(Tensor Key, Tensor Value)> Past);
