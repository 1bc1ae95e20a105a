using Compressor.Sdk.Layers;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The <c>statsq_linear</c> kind: <see cref="StatsQLinear"/>, lowered by <see cref="StatsQLinearLowering"/>.</summary>
public sealed class StatsQLinearKind : LayerKind<StatsQLinear, CodedLinearConfig>
{
    /// <summary>The kind id.</summary>
    public const string KindId = "statsq_linear";

    /// <inheritdoc/>
    public override string Id => KindId;

    /// <inheritdoc/>
    public override StatsQLinear Create(CodedLinearConfig config)
    {
        config.Validate(KindId);
        return new StatsQLinear(config.InFeatures, config.OutFeatures, config.Bits, config.ZeroLess, config.Bias,
            config.Input is null ? null : FrozenActivationQuantizer.FromConfig(config.Input));
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, StatsQLinear layer, string input, string output) => StatsQLinearLowering.Lower(context, layer, input, output);
}
