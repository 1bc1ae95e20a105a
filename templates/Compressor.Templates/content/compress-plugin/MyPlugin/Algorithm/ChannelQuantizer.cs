using static TorchSharp.torch;

namespace MyPlugin.Algorithm;

/// <summary>The algorithm, apart from the plugin plumbing and from ONNX: symmetric per-output-channel quantization,
/// scale = max|w_row| / (2^(b−1) − 1), code = clamp(round(w / scale), −(2^(b−1) − 1), 2^(b−1) − 1).</summary>
public static class ChannelQuantizer
{
    /// <summary>Quantizes <paramref name="weight"/> [out, in]: int8 codes [out, in] and float scales [out].</summary>
    public static (Tensor Codes, Tensor Scales) Quantize(Tensor weight, int bits)
    {
        if (bits is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be in 2..8");
        using var scope = NewDisposeScope();
        long qmax = (1L << (bits - 1)) - 1;
        var w = weight.detach().to_type(ScalarType.Float32);
        var scales = w.abs().amax([1]).div(qmax).clamp_min(1e-12f);
        var codes = w.div(scales.unsqueeze(1)).round().clamp(-qmax, qmax).to_type(ScalarType.Int8);
        return (codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope());
    }
}
