using static TorchSharp.torch;

namespace Compressor.Layers.Packing;

/// <summary>Integer weights with one scale (and, when asymmetric, one zero point) per group of consecutive
/// weights along each row: w ≈ (q − z)·s. A group size of 0 means one group per row (per channel). The dense
/// weight is seen as a matrix [rows, cols] (a convolution's [out, in/groups·kh·kw]).</summary>
public static class GroupQuantization
{
    /// <summary>The effective group size: <paramref name="groupSize"/>, or <paramref name="cols"/> when it is 0.</summary>
    public static long EffectiveGroupSize(long cols, int groupSize) => groupSize <= 0 ? cols : groupSize;

    /// <summary>Number of groups per row.</summary>
    public static long GroupCount(long cols, int groupSize)
    {
        long g = EffectiveGroupSize(cols, groupSize);
        return (cols + g - 1) / g;
    }

    /// <summary>Repeats per-group values [rows, G] to per-weight values [rows, cols].</summary>
    public static Tensor Expand(Tensor perGroup, long cols, int groupSize)
    {
        long g = EffectiveGroupSize(cols, groupSize);
        using var rep = perGroup.repeat_interleave(g, dim: 1);
        return rep.narrow(1, 0, cols).contiguous();
    }

    /// <summary>Integer codes q = clamp(round(w/s) + z, qmin, qmax) for a weight matrix [rows, cols].</summary>
    public static Tensor Quantize(Tensor weight, Tensor scales, Tensor? zeroPoints, int bits, bool signed, int groupSize)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        var (min, max) = IntPacking.Range(bits, signed);
        using var noGrad = no_grad();   // integer codes carry no gradient
        var result = empty([rows, cols], ScalarType.Int32, device: weight.device);
        // Row by row in chunks (every step is element-wise): the float working copies stay small for large matrices.
        foreach (var (first, count) in RowChunks(rows, cols))
        {
            using var scope = NewDisposeScope();
            var s = Expand(scales.narrow(0, first, count), cols, groupSize);
            var q = weight.narrow(0, first, count).div(s).round();
            if (zeroPoints is not null) q = q.add(Expand(zeroPoints.narrow(0, first, count).to_type(ScalarType.Float32), cols, groupSize));
            result.narrow(0, first, count).copy_(q.clamp(min, max).to_type(ScalarType.Int32));
        }
        return result;
    }

    /// <summary>The dense matrix (q − z)·s from integer codes [rows, cols].</summary>
    public static Tensor Dequantize(Tensor codes, Tensor scales, Tensor? zeroPoints, int groupSize)
    {
        long rows = codes.shape[0], cols = codes.shape[1];
        if (scales.requires_grad)
        {
            // Differentiable in the scales (training through the quantizer): one pass, as autograd records it.
            using var scope = NewDisposeScope();
            var q = codes.to_type(scales.dtype);
            if (zeroPoints is not null) q = q.sub(Expand(zeroPoints.to_type(scales.dtype), cols, groupSize));
            return q.mul(Expand(scales, cols, groupSize)).MoveToOuterDisposeScope();
        }
        var result = empty([rows, cols], scales.dtype, device: codes.device);
        foreach (var (first, count) in RowChunks(rows, cols))
        {
            using var scope = NewDisposeScope();
            var q = codes.narrow(0, first, count).to_type(scales.dtype);
            if (zeroPoints is not null) q = q.sub(Expand(zeroPoints.narrow(0, first, count).to_type(scales.dtype), cols, groupSize));
            result.narrow(0, first, count).copy_(q.mul(Expand(scales.narrow(0, first, count), cols, groupSize)));
        }
        return result;
    }

    /// <summary>Row ranges of about 2^22 elements (at least one row).</summary>
    private static IEnumerable<(long First, long Count)> RowChunks(long rows, long cols)
    {
        long step = Math.Max(1, (1L << 22) / Math.Max(1, cols));
        for (long first = 0; first < rows; first += step) yield return (first, Math.Min(step, rows - first));
    }

    /// <summary>Storage bits: packed codes + float32 scales + packed zero points.</summary>
    public static long StorageBits(long rows, long cols, int bits, int groupSize, bool hasZeroPoints)
    {
        long groups = rows * GroupCount(cols, groupSize);
        return IntPacking.PackedBytes(rows * cols, bits) * 8 + groups * 32 + (hasZeroPoints ? IntPacking.PackedBytes(groups, bits) * 8 : 0);
    }
}
