namespace Compressor.Sdk.Models;

/// <summary>A multi-head self-attention module: softmax(q·kᵀ/√d)·v over <see cref="Heads"/> heads of width d, on a
/// sequence without mask, followed by the output projection. The module itself (<see cref="Name"/>) may be replaced by
/// one that computes the same function from the same linear layers.</summary>
/// <param name="Name">The attention module's name, e.g. <c>blocks.3.attn</c>.</param>
/// <param name="Heads">Number of heads.</param>
/// <param name="QueryKeyValue">The fused q/k/v projection [3·C, C] (rows q, then k, then v), relative to
/// <see cref="Name"/>, e.g. <c>qkv</c>.</param>
/// <param name="Output">The output projection [C, C], relative to <see cref="Name"/>, e.g. <c>proj</c>.</param>
public sealed record AttentionLayout(string Name, int Heads, string QueryKeyValue, string Output);
