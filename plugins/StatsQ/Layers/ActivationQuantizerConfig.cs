using Compressor.Sdk;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The config of a <see cref="FrozenActivationQuantizer"/>.</summary>
/// <param name="Bits">Activation bits, 2..8.</param>
/// <param name="Signed">Signed codes [−2^(b−1), 2^(b−1)−1], or unsigned [0, 2^b−1].</param>
/// <param name="ScaleShape">The shape of the learned scale (broadcast against the activation).</param>
/// <param name="Shifts">Features of the learnable shifts around the quantizer (0: none).</param>
public sealed record ActivationQuantizerConfig(int Bits, bool Signed, long[] ScaleShape, long Shifts)
{
    /// <summary>Checks the ranges a valid quantizer has; <paramref name="what"/> names the layer kind in the message.</summary>
    /// <exception cref="CompressException">Out of range (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public void Validate(string what)
    {
        StatsQConfigChecks.Range(what, "bits", Bits, 2, 8);
        StatsQConfigChecks.Shape(what, "scaleShape", ScaleShape);
        StatsQConfigChecks.Range(what, "shifts", Shifts, 0, 1 << 24);
    }
}
