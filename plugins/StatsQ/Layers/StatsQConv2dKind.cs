using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The <c>statsq_conv2d</c> kind: <see cref="StatsQConv2d"/>, lowered by <see cref="StatsQConv2dLowering"/>.</summary>
public sealed class StatsQConv2dKind : LayerKind<StatsQConv2d, StatsQConv2dConfig>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "statsq_conv2d";

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override StatsQConv2d Create(StatsQConv2dConfig config)
    {
        config.Validate();
        return new StatsQConv2d(config.InChannels, config.OutChannels, config.Kernel, config.Stride, config.Padding, config.Bits, config.Bias,
            FrozenActivationQuantizer.FromConfig(config.Input));
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, StatsQConv2d layer, string input, string output) => StatsQConv2dLowering.Lower(context, layer, input, output);
}
