namespace Compressor.Sdk.Models;

/// <summary>A multi-head self-attention module: softmax(q·kᵀ/√d + mask)·v over <see cref="Heads"/> heads of width d,
/// followed by the output projection. The positional members describe the fused form of ViT/DeiT (one q/k/v projection
/// [3·C, C], no mask, no position encoding inside the attention); the optional members describe the other forms of the
/// transformer families: separate q/k/v projections (BERT, the Llama family), grouped-query attention (fewer key/value
/// heads), a causal or padding mask, rotary position embeddings applied to q and k. A method that rewrites whole
/// attention modules checks these members and says when it cannot apply to a form. The module itself
/// (<see cref="Name"/>) may be replaced by one that computes the same function from the same linear layers only when
/// <see cref="Replaceable"/> is true.</summary>
/// <param name="Name">The attention module's name, e.g. <c>blocks.3.attn</c>.</param>
/// <param name="Heads">Number of (query) heads.</param>
/// <param name="QueryKeyValue">The fused q/k/v projection [3·C, C] (rows q, then k, then v), relative to
/// <see cref="Name"/>, e.g. <c>qkv</c>; empty when the projections are separate (<see cref="Query"/>, <see cref="Key"/>,
/// <see cref="Value"/>).</param>
/// <param name="Output">The output projection [C, H·d], relative to <see cref="Name"/>, e.g. <c>proj</c>.</param>
public sealed record AttentionLayout(string Name, int Heads, string QueryKeyValue, string Output)
{
    /// <summary>The separate query projection [H·d, C] relative to <see cref="Name"/> (e.g. <c>self.query</c>,
    /// <c>q_proj</c>), or null for the fused form.</summary>
    public string? Query { get; init; }

    /// <summary>The separate key projection [G·d, C] relative to <see cref="Name"/>, or null for the fused form.</summary>
    public string? Key { get; init; }

    /// <summary>The separate value projection [G·d, C] relative to <see cref="Name"/>, or null for the fused form.</summary>
    public string? Value { get; init; }

    /// <summary>Key/value heads G (grouped-query attention when fewer than <see cref="Heads"/>); null: as many as
    /// <see cref="Heads"/>.</summary>
    public int? KeyValueHeads { get; init; }

    /// <summary>The head width d when it is not C / <see cref="Heads"/>; null otherwise.</summary>
    public int? HeadDim { get; init; }

    /// <summary>Whether each position attends only to itself and earlier positions.</summary>
    public bool Causal { get; init; }

    /// <summary>Whether an additive padding mask from the model's <c>attention_mask</c> input enters the logits.</summary>
    public bool PaddingMask { get; init; }

    /// <summary>Whether rotary position embeddings rotate q and k (per position) before their product.</summary>
    public bool Rotary { get; init; }

    /// <summary>Whether the module at <see cref="Name"/> computes nothing but the attention and its output projection
    /// on one input (no residual, norm or side input), so that a plugin may replace it as a whole. True for the
    /// fused, unmasked form.</summary>
    public bool Replaceable { get; init; } = true;

    /// <summary>Whether q, k and v come from one fused projection (<see cref="QueryKeyValue"/>).</summary>
    public bool IsFused => Query is null;

    /// <summary>What keeps the attention from being the fused, unmasked, position-free ViT form, in words (e.g.
    /// <c>rotary position embeddings, grouped-query attention</c>), or null when it is that form.</summary>
    public string? Differences()
    {
        var d = new List<string>();
        if (!IsFused) d.Add("separate q/k/v projections");
        if (Causal) d.Add("a causal mask");
        if (PaddingMask) d.Add("a padding mask");
        if (Rotary) d.Add("rotary position embeddings");
        if (KeyValueHeads is { } g && g != Heads) d.Add("grouped-query attention");
        if (HeadDim is not null) d.Add("a head width other than C/heads");
        if (!Replaceable) d.Add("a module that holds more than the attention");
        return d.Count == 0 ? null : string.Join(", ", d);
    }
}
