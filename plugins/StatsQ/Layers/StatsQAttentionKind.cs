using Compressor.Sdk;
using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The <c>statsq_attention</c> kind: <see cref="StatsQAttention"/>, lowered by <see cref="StatsQAttentionLowering"/>.</summary>
public sealed class StatsQAttentionKind : LayerKind<StatsQAttention, StatsQAttentionConfig>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "statsq_attention";

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override StatsQAttention Create(StatsQAttentionConfig config)
    {
        config.Validate();
        var parts = new Dictionary<string, nn.Module>(StringComparer.Ordinal);
        foreach (var (name, part) in config.Parts)
            parts[name] = part.Linear is { } l ? CodedLinear.FromConfig(l)
                : part.Quantizer is { } q ? FrozenActivationQuantizer.FromConfig(q)
                : throw new CompressException(ErrorKind.InvalidInput, $"{KindId}: part '{name}' is neither a linear nor a quantizer");
        try { return new StatsQAttention(config.Dim, config.Heads, config.Qkr, parts, config.QueryBiasKey ? zeros(config.Heads, config.Dim) : null); }
        catch (ArgumentException e) { throw new CompressException(ErrorKind.InvalidInput, $"{KindId}: {e.Message}"); }
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, StatsQAttention layer, string input, string output) => StatsQAttentionLowering.Lower(context, layer, input, output);
}
