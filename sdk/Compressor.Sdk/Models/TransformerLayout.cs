namespace Compressor.Sdk.Models;

/// <summary>Where a transformer's parts are, by layer name, for methods that rewrite more than single layers (query–key
/// reparameterization replaces whole attention modules; first/last layers get other bit widths). Models that know
/// their structure report it as <see cref="CompressibleModel.Transformer"/>.</summary>
/// <param name="Blocks">The transformer blocks, in order.</param>
/// <param name="Inputs">The layers that read the model input (a ViT's patch embedding), kept apart by methods that treat
/// first and last layers differently.</param>
/// <param name="Heads">The output layers (classifier heads, language-model head).</param>
public sealed record TransformerLayout(IReadOnlyList<TransformerBlockLayout> Blocks, IReadOnlyList<string> Inputs, IReadOnlyList<string> Heads);
