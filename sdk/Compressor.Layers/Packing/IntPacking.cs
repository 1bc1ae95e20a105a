using static TorchSharp.torch;

namespace Compressor.Layers.Packing;

/// <summary>Packs integer codes of 1 to 8 bits densely into bytes: the codes, in row-major order, form one little-endian
/// bit stream — code i occupies bits [i·b, (i + 1)·b), the first code in the lowest bits of the first byte; signed codes
/// as b-bit two's complement; the last byte padded with zeros. A b-bit code therefore costs exactly b bits (3-bit: 8
/// codes in 3 bytes; 5-bit: 8 in 5; 6-bit: 4 in 3). For 2, 4 and 8 bits this is ONNX's own packing of int2/uint2,
/// int4/uint4 and int8/uint8 (4-bit: low nibble first; 2-bit: <c>x0 | x1&lt;&lt;2 | x2&lt;&lt;4 | x3&lt;&lt;6</c>), byte for
/// byte, so those widths have an ONNX element type (<see cref="HasOnnxType"/>); the other widths are stored as uint8
/// bytes and unpacked in the graph (<c>Lowering.DenseUnpacking</c>).</summary>
public static class IntPacking
{
    /// <summary>Bit widths that pack: 1 to 8.</summary>
    public static readonly int[] SupportedBits = [1, 2, 3, 4, 5, 6, 7, 8];

    /// <summary>Whether <paramref name="bits"/>-bit codes have an ONNX element type (2, 4, 8) whose packing is this one.</summary>
    public static bool HasOnnxType(int bits) => bits is 2 or 4 or 8;

    /// <summary>The number of bytes <paramref name="count"/> codes of <paramref name="bits"/> bits take.</summary>
    public static long PackedBytes(long count, int bits) => (count * bits + 7) / 8;

    /// <summary>The code range of a signed or unsigned integer of <paramref name="bits"/> bits.</summary>
    public static (int Min, int Max) Range(int bits, bool signed) =>
        signed ? (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) : (0, (1 << bits) - 1);

    /// <summary>The smallest whole number of codes that fills whole bytes: lcm(8, b)/b codes in lcm(8, b)/8 bytes.</summary>
    public static (int Codes, int Bytes) Word(int bits)
    {
        Check(bits);
        int lcm = 8 * bits / Gcd(8, bits);
        return (lcm / bits, lcm / 8);
    }

    /// <summary>Packs integer codes (any integer tensor, any shape, values inside <see cref="Range"/>) into a flat uint8 tensor.</summary>
    /// <exception cref="ArgumentException">Unsupported width or a code out of range.</exception>
    public static Tensor Pack(Tensor codes, int bits, bool signed)
    {
        Check(bits);
        using var scope = NewDisposeScope();
        var (min, max) = Range(bits, signed);
        var flat = codes.flatten().to_type(ScalarType.Int64).cpu();
        if (flat.numel() > 0 && (flat.min().item<long>() < min || flat.max().item<long>() > max))
            throw new ArgumentException($"codes outside the {bits}-bit {(signed ? "signed" : "unsigned")} range {min}..{max}");
        var (per, wordBytes) = Word(bits);
        long n = flat.numel(), padded = (n + per - 1) / per * per;
        var u = flat.bitwise_and(tensor((1L << bits) - 1, device: CPU));
        if (padded != n) u = nn.functional.pad(u, [0, padded - n]);
        // Packed on the CPU (exact integer arithmetic, the codes read back for the range check anyway), returned on the codes' device.
        // One word of lcm(8, b) ≤ 56 bits per row: Σ u_j·2^(b·j), then its bytes, lowest first.
        var weights = tensor(Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray(), device: CPU);
        var words = u.reshape(-1, per).mul(weights).sum(1, keepdim: true);
        var shifts = tensor(Enumerable.Range(0, wordBytes).Select(i => 1L << (8 * i)).ToArray(), device: CPU);
        var bytes = words.div(shifts, RoundingMode.floor).remainder(256).flatten();
        return bytes.narrow(0, 0, PackedBytes(n, bits)).to_type(ScalarType.Byte).to(codes.device).MoveToOuterDisposeScope();
    }

    /// <summary>Unpacks <paramref name="count"/> codes from a flat uint8 tensor into an int32 tensor.</summary>
    public static Tensor Unpack(Tensor packed, long count, int bits, bool signed)
    {
        Check(bits);
        using var scope = NewDisposeScope();
        var (per, wordBytes) = Word(bits);
        var p = packed.flatten().to_type(ScalarType.Int64);
        long words = (p.numel() + wordBytes - 1) / wordBytes;
        if (words * wordBytes != p.numel()) p = nn.functional.pad(p, [0, words * wordBytes - p.numel()]);
        var byteWeights = tensor(Enumerable.Range(0, wordBytes).Select(i => 1L << (8 * i)).ToArray(), device: packed.device);
        var w = p.reshape(words, wordBytes).mul(byteWeights).sum(1, keepdim: true);
        var divisors = tensor(Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray(), device: packed.device);
        var v = w.div(divisors, RoundingMode.floor).remainder(1L << bits).flatten();
        if (v.numel() < count) throw new ArgumentException($"packed tensor holds {v.numel()} codes, {count} expected");
        v = v.narrow(0, 0, count);
        if (signed) v = where(v.ge(1L << (bits - 1)), v.sub(1L << bits), v);
        return v.to_type(ScalarType.Int32).MoveToOuterDisposeScope();
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    private static void Check(int bits)
    {
        if (!SupportedBits.Contains(bits)) throw new ArgumentException($"cannot pack {bits}-bit codes (supported: 1 to 8)");
    }
}
