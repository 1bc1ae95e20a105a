using System.Globalization;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A model of a built-in architecture (<see cref="IArchitecture"/>): executable, one tensor in and one out.
/// It knows its transformer structure (<see cref="Transformer"/>), its named inputs and outputs when it has several
/// (<see cref="INamedIoModule"/>), and copies itself by building
/// the architecture afresh (<see cref="EngineModel.FrozenCopy"/>).</summary>
public sealed class ArchitectureModel : EngineModel
{
    /// <summary>Builds a freshly initialised module of <paramref name="architecture"/> with the config of
    /// <paramref name="spec"/> (completed with the architecture's defaults).</summary>
    /// <param name="architecture">The architecture.</param>
    /// <param name="spec">Its name and config.</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    /// <exception cref="ArgumentException">The spec names another architecture.</exception>
    /// <exception cref="CompressException">A bad config (kind <see cref="ErrorKind.InvalidOptions"/>).</exception>
    public ArchitectureModel(IArchitecture architecture, ArchitectureSpec spec, LayerKindSet kinds, IEnumerable<AppliedStep>? steps = null)
        : this(architecture, Complete(architecture, spec), kinds, steps, completed: true) { }

    private ArchitectureModel(IArchitecture architecture, ArchitectureSpec complete, LayerKindSet kinds, IEnumerable<AppliedStep>? steps, bool completed)
        : base(architecture.Create(complete.Config), complete, kinds, steps)
    {
        System.Diagnostics.Debug.Assert(completed);
        Architecture = architecture;
    }

    /// <summary>The architecture.</summary>
    public IArchitecture Architecture { get; }

    /// <summary>The architecture and its complete config.</summary>
    public new ArchitectureSpec Spec => base.Spec!;

    /// <summary>The transformer structure of the built-in transformers. ViT/DeiT: blocks <c>blocks.{i}</c>, fused
    /// attention <c>blocks.{i}.attn</c> (<c>qkv</c>, <c>proj</c>), feed-forward <c>mlp.fc1</c> / <c>fc2</c>, input layer
    /// <c>patch_embed.proj</c>, heads <c>head</c> (and <c>head_dist</c>). GPT-2: <c>transformer.h.{i}.attn</c>
    /// (<c>c_attn</c>, <c>c_proj</c>, causal), <c>mlp.c_fc</c> / <c>c_proj</c>, input <c>transformer.wte</c>, head tied to
    /// it. BERT: <c>encoder.layer.{i}.attention</c> (<c>self.query/key/value</c>, <c>output.dense</c>, padding mask,
    /// residual LayerNorm inside), <c>intermediate.dense</c> / <c>output.dense</c>, inputs the embeddings, head the
    /// pooler. Llama family: <c>model.layers.{i}.self_attn</c> (<c>q_proj/k_proj/v_proj</c>, <c>o_proj</c>, causal,
    /// rotary, grouped-query), SwiGLU <c>mlp.gate_proj</c> + <c>up_proj</c> / <c>down_proj</c>, input
    /// <c>model.embed_tokens</c>, head <c>lm_head</c>. Null for the other architectures.</summary>
    public override TransformerLayout? Transformer => Module switch
    {
        VisionTransformer vit => Blocks(vit.Depth, i => $"blocks.{i}", b => new AttentionLayout(b + ".attn", vit.AttentionHeads, "qkv", "proj"),
            ".mlp.fc1", ".mlp.fc2", ["patch_embed.proj"], vit.Distilled ? ["head", "head_dist"] : ["head"]),
        GptModel gpt => Blocks(gpt.Layers, i => $"transformer.h.{i}", b => new AttentionLayout(b + ".attn", gpt.AttentionHeads, "c_attn", "c_proj") { Causal = true },
            ".mlp.c_fc", ".mlp.c_proj", ["transformer.wte"], []),
        BertModel bert => Blocks(bert.Depth, i => $"encoder.layer.{i}", b => new AttentionLayout(b + ".attention", bert.Heads, "", "output.dense")
            {
                Query = "self.query", Key = "self.key", Value = "self.value", PaddingMask = true, Replaceable = false,
            },
            ".intermediate.dense", ".output.dense", ["embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings"],
            bert.HasPooler ? ["pooler.dense"] : []),
        LlamaForCausalLM llama => Blocks(llama.Layers, i => $"model.layers.{i}", b => new AttentionLayout(b + ".self_attn", llama.Heads, "", "o_proj")
            {
                Query = "q_proj", Key = "k_proj", Value = "v_proj", KeyValueHeads = llama.KeyValueHeads, Causal = true, Rotary = true,
                HeadDim = llama.HeadDim * llama.Heads == ((LlamaAttention)GetLayer("model.layers.0.self_attn")).Shape.Hidden ? null : llama.HeadDim,
            },
            ".mlp.up_proj", ".mlp.down_proj", ["model.embed_tokens"], llama.Tied ? [] : ["lm_head"], ".mlp.gate_proj"),
        _ => null,
    };

    private static TransformerLayout Blocks(int count, Func<int, string> name, Func<string, AttentionLayout> attention, string ffnIn, string ffnOut,
        IReadOnlyList<string> inputs, IReadOnlyList<string> heads, string? gate = null)
    {
        var blocks = new List<TransformerBlockLayout>(count);
        for (int i = 0; i < count; i++)
        {
            string block = name(i);
            blocks.Add(new TransformerBlockLayout(block, attention(block), block + ffnIn, block + ffnOut) { FeedForwardGate = gate is null ? null : block + gate });
        }
        return new TransformerLayout(blocks, inputs, heads);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<string> InputNames => Module is INamedIoModule m ? m.InputNames : base.InputNames;

    /// <inheritdoc/>
    public override IReadOnlyList<string> OutputNames => Module is INamedIoModule m ? m.OutputNames : base.OutputNames;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs) =>
        Module is INamedIoModule m ? m.Run(inputs) : base.Run(inputs);

    /// <summary>A data batch as named inputs: for a module with several inputs taking token ids (BERT), the ids with
    /// <c>attention_mask</c> = ids ≠ 0 ([PAD] is 0) and <c>token_type_ids</c> = 0; otherwise the batch itself.</summary>
    public override IReadOnlyDictionary<string, Tensor> Feed(Tensor batch)
    {
        if (Module is not INamedIoModule m) return base.Feed(batch);
        var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [m.InputNames[0]] = batch.alias() };
        if (m.InputNames.Contains(BertModel.AttentionMask)) feed[BertModel.AttentionMask] = batch.ne(0).to_type(ScalarType.Int64);
        if (m.InputNames.Contains(BertModel.TokenTypeIds)) feed[BertModel.TokenTypeIds] = zeros_like(batch);
        return feed;
    }

    /// <summary>SmoothQuant's fold for the built-in transformers: a single q/k/v projection or fc1 into the
    /// LayerNorm before it, the output projection into the value rows of the q/k/v projection
    /// (<see cref="TransformerBlock.FoldInputScale"/>); null for anything else.</summary>
    public override string? FoldInputScale(IReadOnlyList<string> layers, torch.Tensor divisor)
    {
        if (layers.Count != 1) return null;
        string name = layers[0];
        for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
        {
            string prefix = name[..dot];
            nn.Module parent;
            try { parent = GetLayer(prefix); }
            catch (KeyNotFoundException) { continue; }
            if (parent is TransformerBlock block)
                return block.FoldInputScale(name[(dot + 1)..], divisor) is { } folded ? prefix + "." + folded : null;
        }
        return null;
    }

    /// <inheritdoc/>
    protected override EngineModel CreateEmptyCopy() => new ArchitectureModel(Architecture, Spec, Kinds, Steps, completed: true);

    private static ArchitectureSpec Complete(IArchitecture architecture, ArchitectureSpec spec)
    {
        if (!string.Equals(architecture.Name, spec.Name, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"the spec names architecture '{spec.Name}', not '{architecture.Name}'", nameof(spec));
        return new ArchitectureSpec(architecture.Name, architecture.Complete(spec.Config));
    }
}
