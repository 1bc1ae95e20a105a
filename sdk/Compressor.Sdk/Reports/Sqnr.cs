using static TorchSharp.torch;

namespace Compressor.Sdk.Reports;

/// <summary>Signal-to-quantization-noise ratio in dB: 20·log10(‖x‖ / ‖x − y‖). Each extra bit of a uniform
/// quantizer adds about 6.02 dB.</summary>
public static class Sqnr
{
    /// <summary>The SQNR of approximation <paramref name="approximation"/> of <paramref name="reference"/> (∞ when equal).</summary>
    public static double Db(Tensor reference, Tensor approximation)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(approximation);
        using var outer = NewDisposeScope();   // detach() and reshape() each make a tensor: all freed on return
        var x = reference.detach().reshape(-1);
        var y = approximation.detach().reshape(-1);
        if (x.numel() != y.numel()) throw new ArgumentException($"SQNR of {x.numel()} values against {y.numel()}");
        // Sums of squares in float64, in chunks of 2^22 values, so that a large matrix needs no float64 copy of itself.
        double signal = 0, noise = 0;
        const long chunk = 1L << 22;
        for (long start = 0; start < x.numel(); start += chunk)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(chunk, x.numel() - start);
            var a = x.narrow(0, start, n).to_type(ScalarType.Float64);
            var e = a.sub(y.narrow(0, start, n).to_type(ScalarType.Float64));
            signal += a.square().sum().item<double>();
            noise += e.square().sum().item<double>();
        }
        if (noise == 0) return double.PositiveInfinity;
        return 10 * Math.Log10(signal / noise);
    }
}
