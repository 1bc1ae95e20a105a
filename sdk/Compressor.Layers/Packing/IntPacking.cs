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
        var (min, max) = Range(bits, signed);
        using var flat = codes.flatten();
        if (flat.numel() > 0)
        {
            using var lo = flat.min();
            using var hi = flat.max();
            if (lo.to_type(ScalarType.Int64).item<long>() < min || hi.to_type(ScalarType.Int64).item<long>() > max)
                throw new ArgumentException($"codes outside the {bits}-bit {(signed ? "signed" : "unsigned")} range {min}..{max}");
        }
        var (per, wordBytes) = Word(bits);
        long n = flat.numel();
        var result = empty(PackedBytes(n, bits), ScalarType.Byte, device: CPU);
        if (wordBytes == 1) PackBytewise(flat, bits, per, result);
        else PackWords(flat, bits, per, wordBytes, result);
        if (codes.device.type == TorchSharp.DeviceType.CPU) return result;
        using (result) return result.to(codes.device);
    }

    /// <summary>Widths whose codes fill one byte (1, 2, 4, 8 bits): code j of a byte is shifted left by j·b, in int32.</summary>
    private static void PackBytewise(Tensor flat, int bits, int per, Tensor result)
    {
        long n = flat.numel();
        long chunk = Math.Max(1, ChunkElements / per) * per;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long length = Math.Min(chunk, n - start), padded = (length + per - 1) / per * per;
            var u = flat.narrow(0, start, length).cpu().to_type(ScalarType.Int32).bitwise_and(Int32((1 << bits) - 1, CPU));
            if (padded != length) u = nn.functional.pad(u, [0, padded - length]);
            var rows = u.reshape(-1, per);
            var b = rows.select(1, 0).clone();
            for (int j = 1; j < per; j++) b.bitwise_or_(rows.select(1, j).bitwise_left_shift(Int32(j * bits, CPU)));
            result.narrow(0, start / per, b.numel()).copy_(b);
        }
    }

    /// <summary>Other widths: one word of lcm(8, b) bits per row of codes, in int64.</summary>
    private static void PackWords(Tensor flat, int bits, int per, int wordBytes, Tensor result)
    {
        long n = flat.numel();
        // Packed on the CPU (exact integer arithmetic), returned on the codes' device. In chunks of whole words, so that
        // the int64 working copies stay small for large matrices; the bytes are those of one pass.
        using var weights = tensor(Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray(), device: CPU);
        using var shifts = tensor(Enumerable.Range(0, wordBytes).Select(i => 1L << (8 * i)).ToArray(), device: CPU);
        using var mask = tensor((1L << bits) - 1, device: CPU);
        long chunk = Math.Max(1, ChunkElements / per) * per;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long length = Math.Min(chunk, n - start), padded = (length + per - 1) / per * per;
            var u = flat.narrow(0, start, length).to_type(ScalarType.Int64).cpu().bitwise_and(mask);
            if (padded != length) u = nn.functional.pad(u, [0, padded - length]);
            // One word of lcm(8, b) ≤ 56 bits per row: Σ u_j·2^(b·j), then its bytes, lowest first.
            var words = u.reshape(-1, per).mul(weights).sum(1, keepdim: true);
            var bytes = words.div(shifts, RoundingMode.floor).remainder(256).flatten();
            long offset = start / per * wordBytes, count = Math.Min(bytes.numel(), result.numel() - offset);
            result.narrow(0, offset, count).copy_(bytes.narrow(0, 0, count));
        }
    }

    /// <summary>Elements per chunk of the packing and unpacking working copies (int64: 32 MiB).</summary>
    private const long ChunkElements = 1L << 22;

    /// <summary>Unpacks <paramref name="count"/> codes from a flat uint8 tensor into an int32 tensor.</summary>
    public static Tensor Unpack(Tensor packed, long count, int bits, bool signed)
    {
        Check(bits);
        var (per, wordBytes) = Word(bits);
        using var p = packed.flatten();
        long words = (p.numel() + wordBytes - 1) / wordBytes;
        if (words * per < count) throw new ArgumentException($"packed tensor holds {words * per} codes, {count} expected");
        var result = empty(count, ScalarType.Int32, device: packed.device);
        if (wordBytes == 1)
        {
            UnpackBytewise(p, count, bits, per, signed, result);
            return result;
        }
        using var byteWeights = tensor(Enumerable.Range(0, wordBytes).Select(i => 1L << (8 * i)).ToArray(), device: packed.device);
        using var divisors = tensor(Enumerable.Range(0, per).Select(i => 1L << (i * bits)).ToArray(), device: packed.device);
        long chunkWords = Math.Max(1, ChunkElements / per);
        for (long first = 0; first * per < count; first += chunkWords)
        {
            using var scope = NewDisposeScope();
            long take = Math.Min(chunkWords, words - first);
            long byteStart = first * wordBytes, byteCount = Math.Min(take * wordBytes, p.numel() - byteStart);
            var b = p.narrow(0, byteStart, byteCount).to_type(ScalarType.Int64);
            if (byteCount != take * wordBytes) b = nn.functional.pad(b, [0, take * wordBytes - byteCount]);
            var w = b.reshape(take, wordBytes).mul(byteWeights).sum(1, keepdim: true);
            var v = w.div(divisors, RoundingMode.floor).remainder(1L << bits).flatten();
            long codeStart = first * per, n = Math.Min(v.numel(), count - codeStart);
            v = v.narrow(0, 0, n);
            if (signed) v = where(v.ge(1L << (bits - 1)), v.sub(1L << bits), v);
            result.narrow(0, codeStart, n).copy_(v);
        }
        return result;
    }

    /// <summary>Widths whose codes fill one byte (1, 2, 4, 8 bits): code j of a byte is (byte &gt;&gt; j·b) &amp; mask, in int32.</summary>
    private static void UnpackBytewise(Tensor p, long count, int bits, int per, bool signed, Tensor result)
    {
        long chunkBytes = Math.Max(1, ChunkElements / per);
        for (long first = 0; first * per < count; first += chunkBytes)
        {
            using var scope = NewDisposeScope();
            long take = Math.Min(chunkBytes, p.numel() - first);
            var b = p.narrow(0, first, take).to_type(ScalarType.Int32);
            var mask = Int32((1 << bits) - 1, p.device);
            var v = stack(Enumerable.Range(0, per).Select(j => j == 0 ? b.bitwise_and(mask) : b.bitwise_right_shift(Int32(j * bits, p.device)).bitwise_and_(mask)).ToArray(), 1).flatten();
            long codeStart = first * per, n = Math.Min(v.numel(), count - codeStart);
            v = v.narrow(0, 0, n);
            // b-bit two's complement: codes at or above 2^(b-1) stand for code − 2^b.
            if (signed) v = v.sub(v.bitwise_right_shift(Int32(bits - 1, p.device)).bitwise_left_shift(Int32(bits, p.device)));
            result.narrow(0, codeStart, n).copy_(v);
        }
    }

    /// <summary>An int32 scalar on <paramref name="device"/>: the shift and mask operands are tensors in TorchSharp, and an
    /// implicit conversion from int would put them on the default device, which need not be the data's.</summary>
    private static Tensor Int32(int value, Device device) => tensor(value, ScalarType.Int32, device: device);

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    private static void Check(int bits)
    {
        if (!SupportedBits.Contains(bits)) throw new ArgumentException($"cannot pack {bits}-bit codes (supported: 1 to 8)");
    }
}
