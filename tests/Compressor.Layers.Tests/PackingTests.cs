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

    [Fact]
    public void FollowsOnnxOrderLowBitsFirstTwosComplement()
    {
        using var p4 = IntPacking.Pack(tensor(new[] { 1, -2, 7 }), 4, signed: true);
        Assert.Equal(new byte[] { 0xE1, 0x07 }, p4.data<byte>().ToArray());
        using var p2 = IntPacking.Pack(tensor(new[] { 0, 1, 2, 3, 1 }), 2, signed: false);
        Assert.Equal(new byte[] { 0b11_10_01_00, 0b01 }, p2.data<byte>().ToArray());
    }

    [Fact]
    public void RejectsOutOfRangeCodesAndWidths()
    {
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { 8 }), 4, signed: true));
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { -1 }), 4, signed: false));
        Assert.Throws<ArgumentException>(() => IntPacking.Pack(tensor(new[] { 0 }), 3, signed: false));
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
