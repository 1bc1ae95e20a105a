namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>One part of a <see cref="StatsQAttention"/>: a coded linear or a frozen activation quantizer.</summary>
/// <param name="Linear">The linear's config, or null.</param>
/// <param name="Quantizer">The quantizer's config, or null.</param>
public sealed record StatsQAttentionPart(CodedLinearConfig? Linear = null, ActivationQuantizerConfig? Quantizer = null);
