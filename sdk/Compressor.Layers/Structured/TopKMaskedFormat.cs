namespace Compressor.Layers.Structured;

/// <summary>Training-free input sparsity of a dense linear: the top-k inputs per token by |x| (TEAL) or by |x| times the
/// weight's column norm (WINA).</summary>
/// <param name="Keep">Inputs kept per token, 1..in.</param>
/// <param name="Weighted">Scores weighted by the column norms (WINA, buffer <c>column_scale</c>) or plain |x| (TEAL).</param>
public sealed record TopKMaskedFormat(long Keep, bool Weighted);
