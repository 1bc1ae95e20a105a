namespace Compressor.Engine.Checkpoints;

/// <summary>What the user said about a checkpoint that <c>compress</c> did not write (<c>--arch NAME</c> without sizes,
/// <c>--heads</c>), used when its sizes are read from a config or inferred from its tensors.</summary>
/// <param name="Architecture">An architecture name (or alias such as <c>gpt2</c>) to load it as, or null to detect it.</param>
/// <param name="Heads">Attention heads, which tensor shapes never tell, or null (see <see cref="ShapeInference"/>).</param>
public sealed record ForeignModelOptions(string? Architecture = null, int? Heads = null);
