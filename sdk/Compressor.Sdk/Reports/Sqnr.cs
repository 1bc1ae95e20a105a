using static TorchSharp.torch;

namespace Compressor.Sdk.Reports;

/// <summary>Signal-to-quantization-noise ratio in dB: 20·log10(‖x‖ / ‖x − y‖). Each extra bit of a uniform
/// quantizer adds about 6.02 dB.</summary>
public static class Sqnr
{
    /// <summary>The SQNR of approximation <paramref name="approximation"/> of <paramref name="reference"/> (∞ when equal).</summary>
    public static double Db(Tensor reference, Tensor approximation)
    {
        using var scope = NewDisposeScope();
        var x = reference.to_type(ScalarType.Float64);
        var e = x.sub(approximation.to_type(ScalarType.Float64));
        double signal = x.norm().item<double>(), noise = e.norm().item<double>();
        if (noise == 0) return double.PositiveInfinity;
        return 20 * Math.Log10(signal / noise);
    }
}
