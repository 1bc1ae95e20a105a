using static TorchSharp.torch;

namespace Compressor.Layers.Packing;

/// <summary>Packs integer codes of 2, 4 or 8 bits into bytes in ONNX's layout: elements in row-major order, the
/// first element in the lowest bits (4-bit: low nibble first; 2-bit: <c>x0 | x1&lt;&lt;2 | x2&lt;&lt;4 | x3&lt;&lt;6</c>);
/// signed codes as two's complement; the last byte padded with zeros.</summary>
public static class IntPacking
{
    /// <summary>Bit widths that pack into whole bytes.</summary>
    public static readonly int[] SupportedBits = [2, 4, 8];

    /// <summary>The number of bytes <paramref name="count"/> codes of <paramref name="bits"/> bits take.</summary>
    public static long PackedBytes(long count, int bits) => (count * bits + 7) / 8;

    /// <summary>The code range of a signed or unsigned integer of <paramref name="bits"/> bits.</summary>
    public static (int Min, int Max) Range(int bits, bool signed) =>
        signed ? (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) : (0, (1 << bits) - 1);

    /// <summary>Packs integer codes (any integer tensor, any shape, values inside <see cref="Range"/>) into a flat uint8 tensor.</summary>
    /// <exception cref="ArgumentException">Unsupported width or a code out of range.</exception>
    public static Tensor Pack(Tensor codes, int bits, bool signed)
    {
        Check(bits);
        using var scope = NewDisposeScope();
        var (min, max) = Range(bits, signed);
        var flat = codes.flatten().to_type(ScalarType.Int32);
        if (flat.numel() > 0 && (flat.min().item<int>() < min || flat.max().item<int>() > max))
            throw new ArgumentException($"codes outside the {bits}-bit {(signed ? "signed" : "unsigned")} range {min}..{max}");
        int per = 8 / bits;
        long n = flat.numel(), padded = (n + per - 1) / per * per;
        var u = flat.bitwise_and(tensor((1 << bits) - 1, device: flat.device));
        if (padded != n) u = nn.functional.pad(u, [0, padded - n]);
        var weights = tensor(Enumerable.Range(0, per).Select(i => 1 << (i * bits)).ToArray(), device: flat.device);
        var packed = u.reshape(-1, per).mul(weights).sum(1).to_type(ScalarType.Byte);
        return packed.MoveToOuterDisposeScope();
    }

    /// <summary>Unpacks <paramref name="count"/> codes from a flat uint8 tensor into an int32 tensor.</summary>
    public static Tensor Unpack(Tensor packed, long count, int bits, bool signed)
    {
        Check(bits);
        using var scope = NewDisposeScope();
        int per = 8 / bits;
        var p = packed.flatten().to_type(ScalarType.Int32).unsqueeze(1);
        var divisors = tensor(Enumerable.Range(0, per).Select(i => 1 << (i * bits)).ToArray(), device: packed.device);
        var v = p.div(divisors, RoundingMode.floor).remainder(1 << bits).flatten();
        if (v.numel() < count) throw new ArgumentException($"packed tensor holds {v.numel()} codes, {count} expected");
        v = v.narrow(0, 0, count);
        if (signed) v = where(v.ge(1 << (bits - 1)), v.sub(1 << bits), v);
        return v.MoveToOuterDisposeScope();
    }

    private static void Check(int bits)
    {
        if (!SupportedBits.Contains(bits)) throw new ArgumentException($"cannot pack {bits}-bit codes (supported: 2, 4, 8)");
    }
}
