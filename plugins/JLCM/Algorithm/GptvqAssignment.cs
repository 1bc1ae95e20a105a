using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>GPTQ's error feedback with a codebook instead of a uniform grid (the GPTVQ idea; README "Initialisation",
/// <c>--init gptq</c>): columns in order, in blocks of 128; each weight (as updated by the errors of the columns before
/// it) takes the nearest codeword of its row; the error (w − q)/Uᵢᵢ goes to the later columns through U, the upper
/// Cholesky factor of H⁻¹, at once inside the block and by one product after it.</summary>
public static class GptvqAssignment
{
    /// <summary>Columns per lazy batch update (GPTQ's default).</summary>
    public const int BlockSize = 128;

    /// <summary>U = the upper Cholesky factor of (H + λ·mean(diag H)·I)⁻¹ for the first λ in 0, 0.01, 0.1, 1 that
    /// factorises (H as the caller damped it); dead inputs (Hᵢᵢ = 0) get Hᵢᵢ = 1 first.</summary>
    /// <exception cref="InvalidOperationException">No λ up to 1 factorises (H is not a Gram matrix).</exception>
    public static Tensor InverseCholesky(Tensor hessian)
    {
        using var scope = NewDisposeScope();
        var h = hessian.detach().to_type(ScalarType.Float32).clone();
        var diagonal = h.diagonal();
        diagonal.copy_(where(diagonal.eq(0), ones_like(diagonal), diagonal));
        double mean = diagonal.mean().item<float>();
        foreach (double damp in new[] { 0, 0.01, 0.1, 1 })
        {
            using var attempt = NewDisposeScope();
            var (l, info) = linalg.cholesky_ex(h.add(eye(h.shape[0], device: h.device).mul(damp * mean)));
            if (info.item<int>() != 0 || !l.isfinite().all().item<bool>()) continue;
            var (lower, info2) = linalg.cholesky_ex(l.cholesky_inverse());
            if (info2.item<int>() == 0 && lower.isfinite().all().item<bool>()) return lower.t().contiguous().MoveToOuterDisposeScope().MoveToOuterDisposeScope();
        }
        throw new InvalidOperationException("the input statistics are not positive semi-definite");
    }

    /// <summary>GPTQ's importance of each column: 1/Uᵢᵢ² (the weight of a column's squared rounding error in GPTQ's loss).</summary>
    public static Tensor Importance(Tensor u) => u.diagonal().square().reciprocal();

    /// <summary>Indices [O, I] (int64) of <paramref name="weight"/> [O, I] into each row's codewords
    /// <paramref name="rowCodewords"/> [O, K], chosen with error feedback through <paramref name="u"/> [I, I].</summary>
    public static Tensor Assign(Tensor weight, Tensor rowCodewords, Tensor u)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32).clone();
        var c = rowCodewords.detach().to_type(ScalarType.Float32);
        long rows = w.shape[0], cols = w.shape[1];
        var indices = zeros([rows, cols], ScalarType.Int64, device: w.device);
        for (long i1 = 0; i1 < cols; i1 += BlockSize)
        {
            using var block = NewDisposeScope();
            long count = Math.Min(BlockSize, cols - i1);
            var w1 = w.narrow(1, i1, count).clone();
            var err1 = zeros(rows, count, device: w.device);
            var u1 = u.narrow(0, i1, count).narrow(1, i1, count);
            for (long i = 0; i < count; i++)
            {
                var col = w1[.., i];
                var k = col.unsqueeze(1).sub(c).abs().argmin(1);
                indices[.., i1 + i] = k;
                var e = col.sub(c.gather(1, k.unsqueeze(1)).squeeze(1)).div(u1[i, i]);
                w1.narrow(1, i, count - i).sub_(e.unsqueeze(1).matmul(u1[i, TensorIndex.Slice(i, count)].unsqueeze(0)));
                err1[.., i] = e;
            }
            if (i1 + count < cols) w.narrow(1, i1 + count, cols - i1 - count).sub_(err1.matmul(u.narrow(0, i1, count).narrow(1, i1 + count, cols - i1 - count)));
        }
        return indices.MoveToOuterDisposeScope();
    }
}
