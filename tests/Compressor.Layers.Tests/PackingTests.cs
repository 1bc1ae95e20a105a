using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Layers.Structured;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;
using static TorchSharp.torch;

namespace Compressor.Layers.Tests;

public sealed class PackingTests
{
    [Theory]
    [InlineData(2, true)] [InlineData(2, false)] [InlineData(4, true)] [InlineData(4, false)] [InlineData(8, true)] [InlineData(8, false)]
    [InlineData(1, false)] [InlineData(3, true)] [InlineData(3, false)] [InlineData(5, true)] [InlineData(5, false)] [InlineData(6, true)] [InlineData(6, false)] [InlineData(7, true)]
    public void PackUnpackRoundTripsEveryCode(int bits, bool signed)
    {
        var (min, max) = IntPacking.Range(bits, signed);
        var codes = tensor(Enumerable.Range(0, 1001).Select(i => min + i % (max - min + 1)).ToArray());
        using var packed = IntPacking.Pack(codes, bits, signed);
        Assert.Equal(IntPacking.PackedBytes(1001, bits), packed.numel());
        Assert.Equal(ScalarType.Byte, packed.dtype);
        using var back = IntPacking.Unpack(packed, 1001, bits, signed);
        Assert.Equal(codes.data<int>().ToArray(), back.data<int>().ToArray());
    }

    /// <summary>Every width's bytes are the bit stream of the definition, computed here bit by bit, across the
    /// working-copy chunks (over 2^22 codes) and with a partial last byte; unpacking gives the codes back.</summary>
    [Theory]
    [InlineData(1, false)] [InlineData(2, true)] [InlineData(4, true)] [InlineData(4, false)] [InlineData(8, true)] [InlineData(3, true)]
    public void BytesAreTheBitStreamAcrossChunks(int bits, bool signed)
    {
        const int n = (1 << 22) + 4099;
        var (min, max) = IntPacking.Range(bits, signed);
        var random = new Random(bits);
        var codes = Enumerable.Range(0, n).Select(_ => random.Next(min, max + 1)).ToArray();
        var expected = new byte[IntPacking.PackedBytes(n, bits)];
        for (long i = 0; i < n; i++)
            for (int k = 0; k < bits; k++)
                if (((codes[i] >> k) & 1) != 0) expected[(i * bits + k) / 8] |= (byte)(1 << (int)((i * bits + k) % 8));
        using var packed = IntPacking.Pack(tensor(codes), bits, signed);
        Assert.Equal(expected, packed.data<byte>().ToArray());
        using var back = IntPacking.Unpack(packed, n, bits, signed);
        Assert.Equal(codes, back.data<int>().ToArray());
    }

    [Fact]
    public void FollowsOnnxOrderLowBitsFirstTwosComplement()
    {
        using var p4 = IntPacking.Pack(tensor(new[] { 1, -2, 7 }), 4, signed: true);
        Assert.Equal(new byte[] { 0xE1, 0x07 }, p4.data<byte>().ToArray());
        using var p2 = IntPacking.Pack(tensor(new[] { 0, 1, 2, 3, 1 }), 2, signed: false);
        Assert.Equal(new byte[] { 0b11_10_01_00, 0b01 }, p2.data<byte>().ToArray());
    }

    /// <summary>Odd widths are one little-endian bit stream: 3-bit codes 0..7 take exactly 3 bytes (code i at bits 3i..3i+2,
    /// crossing byte boundaries), 6-bit codes 4 in 3 bytes; a partial word is cut at the last byte holding a bit.</summary>
    [Fact]
    public void OddWidthsPackDenselyAsOneBitStream()
    {
        using var p3 = IntPacking.Pack(tensor(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }), 3, signed: false);
        // bits: 000 100 010 110 001 101 011 111 (LSB first) → 0b10_001_000, 0b1_101_011_0, 0b111_101_01... computed:
        ulong stream = 0;
        for (int i = 0; i < 8; i++) stream |= (ulong)i << (3 * i);
        Assert.Equal(new[] { (byte)stream, (byte)(stream >> 8), (byte)(stream >> 16) }, p3.data<byte>().ToArray());
        using var p6 = IntPacking.Pack(tensor(new[] { -32, 31, -1, 5, 7 }), 6, signed: true);
        Assert.Equal(IntPacking.PackedBytes(5, 6), p6.numel());   // 30 bits → 4 bytes
        ulong s6 = 0;
        int[] v6 = [-32, 31, -1, 5, 7];
        for (int i = 0; i < 5; i++) s6 |= (ulong)(v6[i] & 63) << (6 * i);
        Assert.Equal(new[] { (byte)s6, (byte)(s6 >> 8), (byte)(s6 >> 16), (byte)(s6 >> 24) }, p6.data<byte>().ToArray());
        Assert.Equal((8, 3), IntPacking.Word(3));
        Assert.Equal((8, 5), IntPacking.Word(5));
        Assert.Equal((4, 3), IntPacking.Word(6));
        Assert.Equal((2, 1), IntPacking.Word(4));
    }

    [Fact]
    public void RejectsOutOfRangeCodesAndWidths()
    {
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { 8 }), 4, signed: true));
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { -1 }), 4, signed: false));
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { 0 }), 9, signed: false));
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { 4 }), 3, signed: true));
    }

    [Fact]
    public void GroupDequantizeIsExactAffineMap()
    {
        var codes = tensor(new[] { 0, 1, 2, 3, 4, 5 }).reshape(1, 6);
        var scales = tensor(new[] { 0.5f, 2f }).reshape(1, 2);
        var zp = tensor(new[] { 1, 4 }).reshape(1, 2);
        using var w = GroupQuantization.Dequantize(codes, scales, zp, groupSize: 4);
        Assert.Equal(new[] { -0.5f, 0f, 0.5f, 1f, 0f, 2f }, w.data<float>().ToArray());
        Assert.Equal(2, GroupQuantization.GroupCount(6, 4));
        Assert.Equal(1, GroupQuantization.GroupCount(6, 0));
        // 6 codes × 4 bits = 3 bytes, 2 float scales, 2 zero points × 4 bits = 1 byte.
        Assert.Equal(3 * 8 + 2 * 32 + 8, GroupQuantization.StorageBits(1, 6, 4, 4, hasZeroPoints: true));
    }

    [Fact]
    public void SqnrMatchesDefinition()
    {
        var x = tensor(new[] { 3.0f, 4.0f });
        var y = tensor(new[] { 3.0f, 4.5f });
        Assert.Equal(20 * Math.Log10(5 / 0.5), Sqnr.Db(x, y), 9);
        Assert.True(double.IsPositiveInfinity(Sqnr.Db(x, x)));
    }
}
