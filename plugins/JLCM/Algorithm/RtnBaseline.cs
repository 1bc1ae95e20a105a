using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Layers.Packing;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The round-to-nearest baseline at the same index width: per output row, asymmetric uniform codes of b bits
/// over [min(w, 0), max(w, 0)] shrunk by the clipping factor in {1.00, 0.975, …, 0.50} that minimises the row's squared
/// error (an MSE-optimal scale; README "Baselines"), stored as the layers library's <see cref="QuantizedLayer"/> (per-channel
/// scales and zero points).</summary>
public static class RtnBaseline
{
    /// <summary>The quantized replacement of <paramref name="layer"/> (Linear or Conv2d).</summary>
    public static nn.Module Quantize(nn.Module layer, int bits)
    {
        using var scope = NewDisposeScope();
        var (weight, bias) = layer switch
        {
            TorchSharp.Modules.Linear l => (l.weight!.detach(), l.bias?.detach()),
            TorchSharp.Modules.Conv2d c => (c.weight!.detach(), c.bias?.detach()),
            _ => throw new ArgumentException($"rtn baseline: unsupported {layer.GetType().Name}"),
        };
        var w = weight.flatten(1).to_type(ScalarType.Float32);
        var (qmin, qmax) = IntPacking.Range(bits, signed: false);
        Tensor? bestScale = null, bestZero = null, bestErr = null;
        for (int i = 0; i <= 20; i++)
        {
            double f = 1.0 - 0.025 * i;
            var lo = w.amin([1L], keepdim: true).clamp_max(0).mul(f);
            var hi = w.amax([1L], keepdim: true).clamp_min(0).mul(f);
            var s = hi.sub(lo).div(qmax - qmin);
            s = where(s.eq(0), ones_like(s), s);
            var z = lo.div(s).neg().round().clamp(qmin, qmax);
            var err = w.div(s).round().add(z).clamp(qmin, qmax).sub(z).mul(s).sub(w).square().sum([1L], keepdim: true);
            if (bestErr is null) { bestScale = s; bestZero = z; bestErr = err; continue; }
            var better = err.lt(bestErr);
            bestScale = where(better, s, bestScale!);
            bestZero = where(better, z, bestZero!);
            bestErr = where(better, err, bestErr);
        }
        var zeroPoints = bestZero!.to_type(ScalarType.Int32);
        var codes = GroupQuantization.Quantize(w, bestScale!, zeroPoints, bits, signed: false, groupSize: 0);
        return QuantizedLayer.FromCodes(WeightGeometry.Of(layer), new QuantizedFormat(bits, 0, Symmetric: false), codes, bestScale!, zeroPoints, bias);
    }
}
