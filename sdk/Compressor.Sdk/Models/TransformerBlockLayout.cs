namespace Compressor.Sdk.Models;

/// <summary>One transformer block: its attention and its feed-forward layers.</summary>
/// <param name="Name">The block's module name, e.g. <c>blocks.3</c>.</param>
/// <param name="Attention">Its self-attention.</param>
/// <param name="FeedForwardIn">The feed-forward up projection (e.g. <c>blocks.3.mlp.fc1</c>), followed by the activation.</param>
/// <param name="FeedForwardOut">The feed-forward down projection (e.g. <c>blocks.3.mlp.fc2</c>), reading the activation's output.</param>
public sealed record TransformerBlockLayout(string Name, AttentionLayout Attention, string FeedForwardIn, string FeedForwardOut)
{
    /// <summary>The gate projection of a gated feed-forward (SwiGLU: down(silu(gate(x)) · up(x)), e.g.
    /// <c>model.layers.3.mlp.gate_proj</c>), whose activation multiplies <see cref="FeedForwardIn"/>'s output; null for a
    /// plain up → activation → down feed-forward.</summary>
    public string? FeedForwardGate { get; init; }
}
