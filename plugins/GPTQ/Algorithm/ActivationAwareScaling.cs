using Compressor.Layers.Packing;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>AWQ on the full-precision model, block by block (README "AWQ"): capture each layer's inputs, group the
/// layers that read one value; for each group whose producer can absorb a per-channel scale
/// (<see cref="ScaleFolding"/>), search α on a grid for s = mean|x|^α / √(max·min) minimising the group's output error
/// Σ‖X·(Q(W·diag(s))·diag(s)⁻¹)ᵀ − X·Wᵀ‖², then fold 1/s into the producer and s into the weights; then, per layer,
/// search a clipping of each group's max|w| minimising that group's output error and clamp the weights. Later blocks
/// see the scaled and clipped model (which computes what the original did, up to the clipping).</summary>
public static class ActivationAwareScaling
{
    /// <summary>Rows of the clipping search (the reference's n_sample_token).</summary>
    public const int ClipRows = 512;

    /// <summary>Shrink steps of the clipping search: max|w|·(1 − i/20) for i = 0..9 (the reference's max_shrink 0.5, n_grid 20).</summary>
    public const int ClipSteps = 10;

    /// <summary>What AWQ did.</summary>
    /// <param name="Scaled">Layers whose input channels were scaled.</param>
    /// <param name="Clipped">Layers whose groups were clipped.</param>
    public sealed record Outcome(int Scaled, int Clipped);

    /// <summary>Scales and clips the layers of <paramref name="stream"/>'s blocks in place.</summary>
    public static Outcome Run(PluginContext context, GptqOptions options, CompressibleModel model, BlockStream stream)
    {
        var settings = GptqSettings.Of(options);
        int scaled = 0, clipped = 0;
        int batches = Math.Max(1, (int)Math.Ceiling((double)options.CalibrationSamples / options.BatchSize));
        int rowsPerCall = Math.Max(1, (int)Math.Ceiling((double)options.AwqRows / batches));
        using var progress = context.Progress.Start("gptq: AWQ search", stream.Blocks.Sum(b => b.Count));
        for (int k = 0; k < stream.Blocks.Count; k++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            stream.Enter(k, context.Cancellation);
            var captures = GptqCompressor.Capture(context, model, stream, stream.Blocks[k], hessian: false, rowsPerCall);
            var rows = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var meanAbs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            IReadOnlyList<IReadOnlyList<string>> groups;
            try
            {
                groups = LayerGroups.Of(captures);
                foreach (var (name, c) in captures.Where(kv => kv.Value.Count > 0))
                {
                    rows[name] = c.SampledRows();
                    meanAbs[name] = c.MeanAbs();
                }
            }
            finally
            {
                GptqCompressor.Release(model, captures);
            }
            try
            {
                foreach (var group in groups)
                {
                    using var scope = NewDisposeScope();
                    var s = SearchAndFold(context, options, settings, model, stream, group, rows, meanAbs[group[0]]);
                    if (s is not null) scaled += group.Count;
                    foreach (var name in group)
                    {
                        if (options.ClipsWithAwq() && !IsQueryOrKey(name) && Clip(model, name, rows[name], settings)) clipped++;
                        progress.Advance(1, name);
                    }
                }
            }
            finally
            {
                foreach (var t in rows.Values.Concat(meanAbs.Values)) t.Dispose();
            }
        }
        context.Log.Info($"gptq: AWQ scaled {scaled} layer(s) (the others' inputs come from an op that cannot absorb a scale), clipped {clipped}");
        return new Outcome(scaled, clipped);
    }

    /// <summary>AWQ skips clipping the query and key projections (their errors meet in the attention logits, not in an
    /// output the clipping's per-group error sees): layer names containing query, key, q_proj or k_proj.</summary>
    public static bool IsQueryOrKey(string name)
    {
        string leaf = name[(name.LastIndexOf('.') + 1)..].ToLowerInvariant();
        return leaf is "query" or "key" or "q_proj" or "k_proj" or "q" or "k";
    }

    /// <summary>Searches s for one group and folds it; returns s, or null when the group is left as it is (no producer
    /// can absorb a scale, or α = 0 is best).</summary>
    private static Tensor? SearchAndFold(PluginContext context, GptqOptions options, GptqSettings settings, CompressibleModel model, BlockStream stream,
        IReadOnlyList<string> group, Dictionary<string, Tensor> rows, Tensor meanAbs)
    {
        long channels = meanAbs.shape[0];
        var producer = ScaleFolding.Find(model, group, channels, () => stream.Probe(4), context.Seed * 31L + channels, stream.ProbeBlock);
        if (producer is null)
        {
            context.Log.Debug($"gptq: AWQ: no op before [{string.Join(", ", group)}] absorbs a per-channel scale; not scaled");
            return null;
        }
        using var noGrad = no_grad();
        var weights = group.Select(n => ScaleFolding.WeightOf(model.GetLayer(n))).ToList();
        var x = rows[group[0]];
        var targets = weights.Select(w => x.matmul(w.flatten(1).t())).ToList();
        double best = double.PositiveInfinity;
        Tensor? bestScale = null;
        int bestStep = -1;
        for (int i = 0; i < options.AwqGrid; i++)
        {
            using var step = NewDisposeScope();
            double alpha = (double)i / options.AwqGrid;
            var s = meanAbs.pow(alpha).clamp_min(1e-4);
            s = s.div(s.max().mul(s.min()).sqrt());
            double loss = 0;
            for (int j = 0; j < weights.Count; j++)
            {
                var w = weights[j].flatten(1);
                var sc = ColumnScale(s, w.shape[1]);
                var q = Fake(w.mul(sc), settings).div(sc);
                loss += x.matmul(q.t()).sub(targets[j]).square().mean().item<float>();
            }
            if (loss < best)
            {
                best = loss;
                bestStep = i;
                bestScale?.Dispose();
                bestScale = s.detach().clone().DetachFromDisposeScope();
            }
        }
        if (bestStep <= 0 || bestScale is null)
        {
            bestScale?.Dispose();
            return null;
        }
        var chosen = bestScale.MoveToOuterDisposeScope();
        ScaleFolding.Apply(producer, weights, chosen);
        // A producer before the block changed the block's inputs: compute them again for the blocks after it.
        if (!producer.InsideBlock) stream.Recompute(context.Cancellation);
        foreach (var name in group) rows[name].div_(ColumnScale(chosen, rows[name].shape[1]));
        context.Log.Debug($"gptq: AWQ [{string.Join(", ", group)}]: α = {(double)bestStep / options.AwqGrid:F2}, folded into {producer.Description}");
        return chosen;
    }

    /// <summary>s [C] expanded over the weight's columns (a convolution's C·kh·kw, channel-major).</summary>
    private static Tensor ColumnScale(Tensor s, long columns) => columns == s.shape[0] ? s : s.repeat_interleave(columns / s.shape[0]);

    /// <summary>W quantized and dequantized on the grid it will be stored with (nearest rounding).</summary>
    private static Tensor Fake(Tensor w, GptqSettings settings)
    {
        using var codes = NearestRounding.Quantize(w, settings);
        return GroupQuantization.Dequantize(codes.Codes, codes.Scales, codes.ZeroPoints, settings.GroupSize);
    }

    /// <summary>AWQ's clipping for one layer: per row and group, max|w|·(1 − i/20), i = 0..9, keeping the shrink with the
    /// least mean squared error of the group's contribution Σ_{j∈group} x_j·w_j over <see cref="ClipRows"/> input rows;
    /// the weights are clamped to ±(that value). Returns whether any group was clipped.</summary>
    private static bool Clip(CompressibleModel model, string name, Tensor rows, GptqSettings settings)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = ScaleFolding.WeightOf(model.GetLayer(name));
        var w = weight.flatten(1);
        long o = w.shape[0], cols = w.shape[1];
        long g = GroupQuantization.EffectiveGroupSize(cols, settings.GroupSize), groups = GroupQuantization.GroupCount(cols, settings.GroupSize);
        var x = rows.shape[0] > ClipRows ? rows.index_select(0, arange(0, rows.shape[0], rows.shape[0] / ClipRows, device: rows.device).narrow(0, 0, ClipRows)) : rows;
        long pad = groups * g - cols;
        var wp = pad > 0 ? nn.functional.pad(w, [0, pad]) : w;
        var xp = pad > 0 ? nn.functional.pad(x, [0, pad]) : x;
        var wg = wp.reshape(o, groups, g);
        var xg = xp.reshape(-1, groups, g);
        var original = einsum("tgk,ogk->tog", xg, wg);
        var maxAbs = wg.abs().amax([2]);                              // [o, groups]
        var bestMax = maxAbs.clone();
        var bestErr = full_like(maxAbs, double.PositiveInfinity);
        var groupSettings = settings with { GroupSize = (int)g };
        for (int i = 0; i < ClipSteps; i++)
        {
            using var step = NewDisposeScope();
            var limit = maxAbs.mul(1 - i / 20.0);
            var clamped = wg.clamp(limit.neg().unsqueeze(2), limit.unsqueeze(2)).reshape(o, groups * g);
            var q = Fake(clamped, groupSettings).reshape(o, groups, g);
            var err = einsum("tgk,ogk->tog", xg, q).sub(original).square().mean([0]);   // [o, groups]
            var better = err.lt(bestErr);
            bestErr.copy_(where(better, err, bestErr));
            bestMax.copy_(where(better, limit, bestMax));
        }
        bool any = bestMax.lt(maxAbs).any().item<bool>();
        if (!any) return false;
        var limits = bestMax.unsqueeze(2).expand(o, groups, g).reshape(o, groups * g).narrow(1, 0, cols).reshape(weight.shape);
        weight.copy_(weight.clamp(limits.neg(), limits));
        return true;
    }
}
