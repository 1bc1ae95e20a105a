namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The config of a <see cref="StatsQConv2d"/> (groups 1, dilation 1).</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="Kernel">Kernel [kh, kw].</param>
/// <param name="Stride">Stride [sh, sw].</param>
/// <param name="Padding">Padding [ph, pw], both sides.</param>
/// <param name="Bits">Bits of the codes, 2..8.</param>
/// <param name="Bias">Whether the layer adds a bias.</param>
/// <param name="Input">The frozen input quantizer.</param>
public sealed record StatsQConv2dConfig(long InChannels, long OutChannels, long[] Kernel, long[] Stride, long[] Padding, int Bits, bool Bias,
    ActivationQuantizerConfig Input)
{
    /// <summary>Checks the ranges (one-line <see cref="Compressor.Sdk.CompressException"/>).</summary>
    public void Validate()
    {
        const string what = StatsQConv2dKind.KindId;
        StatsQConfigChecks.Range(what, "inChannels", InChannels, 1, 1 << 16);
        StatsQConfigChecks.Range(what, "outChannels", OutChannels, 1, 1 << 16);
        StatsQConfigChecks.Shape(what, "kernel", Kernel, 2);
        StatsQConfigChecks.Shape(what, "stride", Stride, 2);
        if (Padding is not { Length: 2 } || Padding.Any(p => p < 0 || p > 1 << 16)) StatsQConfigChecks.Shape(what, "padding", null);
        StatsQConfigChecks.Range(what, "bits", Bits, 2, 8);
        Input.Validate(what);
    }
}
