using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>Signed integer codes in ONNX's raw layout: 8-bit one per byte, 4-bit two per byte and 2-bit four per
/// byte, first element in the lowest bits (two's complement within each field).</summary>
internal static class TestPacking
{
    /// <summary>The raw bytes of <paramref name="codes"/> (int8 values within <paramref name="bits"/> signed bits), in
    /// row-major order.</summary>
    public static byte[] Pack(Tensor codes, int bits)
    {
        using var c = codes.cpu().to_type(ScalarType.Int8).contiguous();
        var values = c.data<sbyte>().ToArray();
        int perByte = 8 / bits, mask = (1 << bits) - 1;
        var bytes = new byte[(values.Length + perByte - 1) / perByte];
        for (int i = 0; i < values.Length; i++)
            bytes[i / perByte] |= (byte)((values[i] & mask) << (bits * (i % perByte)));
        return bytes;
    }

    /// <summary>Symmetric codes of <paramref name="weight"/> [rows, columns] in groups of <paramref name="groupSize"/>
    /// columns (0: one group per row): scales [rows, groups] = max |w| / (2^(b−1) − 1) (at least 1e-8), codes
    /// round(w / scale) clamped to the signed range, as int8.</summary>
    public static (Tensor Codes, Tensor Scales) Quantize(Tensor weight, int bits, int groupSize)
    {
        using var scope = NewDisposeScope();
        long rows = weight.shape[0], columns = weight.shape[1];
        long g = groupSize <= 0 || groupSize >= columns ? columns : groupSize;
        long groups = (columns + g - 1) / g;
        var w = weight.detach().to_type(ScalarType.Float32);
        var padded = nn.functional.pad(w, [0, groups * g - columns]).reshape(rows, groups, g);
        long qmax = (1L << (bits - 1)) - 1;
        var scales = padded.abs().amax([-1L]).div(qmax).clamp_min(1e-8);
        var expanded = scales.repeat_interleave(g, 1).narrow(1, 0, columns);
        var codes = w.div(expanded).round().clamp(-qmax - 1, qmax).to_type(ScalarType.Int8);
        return (codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope());
    }
}
