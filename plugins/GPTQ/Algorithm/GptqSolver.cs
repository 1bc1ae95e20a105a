using Compressor.Layers.Packing;
using Compressor.Sdk;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>GPTQ for one weight matrix (README "GPTQ, step by step"): given W [rows, cols] and the layer's Hessian
/// H = 2·XᵀX/N [cols, cols], quantize column by column in blocks of <see cref="GptqSettings.BlockSize"/>, feeding each
/// column's rounding error back into the columns not yet quantized through the upper Cholesky factor U of H⁻¹:
/// err = (w − q)/Uᵢᵢ, W[:, j] −= err·Uᵢⱼ for the later columns of the block at once, and for all columns after the
/// block in one matrix product (the lazy batch update). Dead inputs (Hᵢᵢ = 0) get Hᵢᵢ = 1 and W[:, i] = 0; H is damped
/// by λ·mean(diag H); <see cref="GptqSettings.ActOrder"/> permutes the columns by decreasing diag H with static groups.
/// Follows IST-DASLab/gptq <c>gptq.py</c> <c>fasterquant</c> to the operation, including where its grids come from.</summary>
public static class GptqSolver
{
    /// <summary>Quantizes <paramref name="weight"/> [rows, cols] with Hessian <paramref name="hessian"/> [cols, cols].</summary>
    /// <param name="weight">The weight (not modified).</param>
    /// <param name="hessian">H = 2·XᵀX/N (not modified).</param>
    /// <param name="settings">Bits, groups, grid, act-order, dampening, block size.</param>
    /// <param name="layer">The layer's name, for messages.</param>
    /// <param name="warn">Receives one warning per dampening increase.</param>
    /// <exception cref="CompressException">The factorisation failed even at <see cref="GptqSettings.MaxDamp"/> (kind
    /// <see cref="ErrorKind.PluginFailed"/>, one line naming the layer and the dampening).</exception>
    public static LayerCodes Solve(Tensor weight, Tensor hessian, GptqSettings settings, string layer, Action<string> warn)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32).clone();
        var h = hessian.detach().to_type(ScalarType.Float32).clone();
        long rows = w.shape[0], cols = w.shape[1];
        if (h.shape[0] != cols || h.shape[1] != cols) throw new ArgumentException($"{layer}: Hessian [{h.shape[0]}, {h.shape[1]}] for {cols} columns");
        long g = GroupQuantization.EffectiveGroupSize(cols, settings.GroupSize), groups = GroupQuantization.GroupCount(cols, settings.GroupSize);
        bool grouped = groups > 1;

        // Per-channel grid from W as given (the reference finds it before zeroing dead columns).
        var grid = grouped ? null : MinMaxGrid.Fit(w, settings.Bits, settings.Symmetric);

        var dead = h.diagonal().eq(0);
        if (dead.any().item<bool>())
        {
            var deadIdx = dead.nonzero().flatten();
            h.index_put_(ones_like(deadIdx, dtype: ScalarType.Float32), deadIdx, deadIdx);
            w.index_fill_(1, deadIdx, 0);
        }

        var scales = zeros(rows, groups, device: w.device);
        var zerosT = zeros(rows, groups, device: w.device);
        var staticGrids = new MinMaxGrid?[groups];
        if (settings.ActOrder && grouped)
            for (long k = 0; k < groups; k++)
            {
                var gridK = MinMaxGrid.Fit(w.narrow(1, k * g, Math.Min(g, cols - k * g)), settings.Bits, settings.Symmetric);
                staticGrids[k] = gridK;
                scales[.., (int)k] = gridK.Scale;
                zerosT[.., (int)k] = gridK.Zero;
            }
        if (!grouped)
        {
            scales[.., 0] = grid!.Scale;
            zerosT[.., 0] = grid.Zero;
        }

        long[]? perm = null;
        if (settings.ActOrder)
        {
            var p = h.diagonal().argsort(descending: true);
            perm = p.data<long>().ToArray();
            w = w.index_select(1, p);
            h = h.index_select(0, p).index_select(1, p);
        }

        var (u, damp) = InverseCholesky(h, settings, layer, warn);
        var q = zeros(rows, cols, device: w.device);
        var codes = zeros(rows, cols, device: w.device);
        var losses = zeros(rows, cols, device: w.device);
        int block = settings.BlockSize;
        for (long i1 = 0; i1 < cols; i1 += block)
        {
            using var blockScope = NewDisposeScope();
            long i2 = Math.Min(i1 + block, cols), count = i2 - i1;
            var w1 = w.narrow(1, i1, count).clone();
            var q1 = zeros(rows, count, device: w.device);
            var c1 = zeros(rows, count, device: w.device);
            var err1 = zeros(rows, count, device: w.device);
            var loss1 = zeros(rows, count, device: w.device);
            var hinv1 = u.narrow(0, i1, count).narrow(1, i1, count);
            for (long i = 0; i < count; i++)
            {
                long column = i1 + i;
                if (grouped)
                {
                    if (!settings.ActOrder)
                    {
                        if (column % g == 0)
                        {
                            // The reference reads the group from W, which holds the columns as they were when this
                            // block started (earlier blocks' updates in, this block's own not yet).
                            grid?.Dispose();
                            grid = MinMaxGrid.Fit(w.narrow(1, column, Math.Min(g, cols - column)), settings.Bits, settings.Symmetric);
                            grid.Scale.DetachFromDisposeScope();
                            grid.Zero.DetachFromDisposeScope();
                            scales[.., (int)(column / g)] = grid.Scale;
                            zerosT[.., (int)(column / g)] = grid.Zero;
                        }
                    }
                    else
                    {
                        grid = staticGrids[perm![column] / g];
                    }
                }
                var col = w1[.., i];
                var d = hinv1[i, i];
                var code = grid!.Codes(col);
                var value = grid.Values(code);
                q1[.., i] = value;
                c1[.., i] = code;
                var diff = col.sub(value);
                loss1[.., i] = diff.square().div(d.square());
                var e = diff.div(d);
                w1.narrow(1, i, count - i).sub_(e.unsqueeze(1).matmul(hinv1[i, TensorIndex.Slice(i, count)].unsqueeze(0)));
                err1[.., i] = e;
            }
            q.narrow(1, i1, count).copy_(q1);
            codes.narrow(1, i1, count).copy_(c1);
            losses.narrow(1, i1, count).copy_(loss1.div(2));
            if (i2 < cols) w.narrow(1, i2, cols - i2).sub_(err1.matmul(u.narrow(0, i1, count).narrow(1, i2, cols - i2)));
        }
        if (!settings.ActOrder) grid?.Dispose();
        double loss = losses.sum().item<float>();
        if (perm is not null)
        {
            var inverse = tensor(perm, device: codes.device).argsort();
            codes = codes.index_select(1, inverse);
        }
        return Package(codes, scales, zerosT, settings, loss, damp);
    }

    /// <summary>Unsigned codes, scales and float zero points [rows, groups] → the layer's codes (signed when symmetric:
    /// q − 2^(b−1), the reference's zero) and integer zero points.</summary>
    internal static LayerCodes Package(Tensor unsignedCodes, Tensor scales, Tensor zeroPoints, GptqSettings settings, double loss, double damp)
    {
        int half = 1 << (settings.Bits - 1);
        var codes = settings.Symmetric ? unsignedCodes.sub(half).to_type(ScalarType.Int32) : unsignedCodes.to_type(ScalarType.Int32);
        var z = settings.Symmetric ? null : zeroPoints.to_type(ScalarType.Int32).MoveToOuterDisposeScope();
        return new LayerCodes(codes.MoveToOuterDisposeScope(), scales.contiguous().MoveToOuterDisposeScope(), z, loss, damp);
    }

    /// <summary>U = the upper Cholesky factor of (H + λ·mean(diag H)·I)⁻¹, raising λ tenfold (from 0: to 0.01) with a
    /// warning each time the factorisation fails, up to <see cref="GptqSettings.MaxDamp"/>.</summary>
    private static (Tensor U, double Damp) InverseCholesky(Tensor h, GptqSettings settings, string layer, Action<string> warn)
    {
        double mean = h.diagonal().mean().item<float>();
        long n = h.shape[0];
        double damp = settings.Damp;
        while (true)
        {
            using (var attempt = NewDisposeScope())
            {
                var hd = h.add(eye(n, device: h.device).mul(damp * mean));
                var (l, info) = linalg.cholesky_ex(hd);
                if (info.item<int>() == 0 && l.isfinite().all().item<bool>())
                {
                    var inverse = l.cholesky_inverse();
                    var (lower, info2) = linalg.cholesky_ex(inverse);
                    if (info2.item<int>() == 0 && lower.isfinite().all().item<bool>())
                        return (lower.t().contiguous().MoveToOuterDisposeScope(), damp);
                }
            }
            double next = damp > 0 ? damp * 10 : 0.01;
            if (next > settings.MaxDamp * (1 + 1e-9))
                throw new CompressException(ErrorKind.PluginFailed,
                    $"gptq: layer '{layer}': the Hessian is not positive definite even with dampening {damp:G3} (--max-damp {settings.MaxDamp:G3}); give more calibration samples or raise --damp");
            warn($"gptq: layer '{layer}': the Hessian's Cholesky factorisation failed with dampening {damp:G3} (too few calibration samples for its {n} inputs?); retrying with {next:G3}");
            damp = next;
        }
    }
}
