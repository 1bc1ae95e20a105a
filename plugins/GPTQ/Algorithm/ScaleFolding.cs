using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Where AWQ's 1/s goes (README "AWQ: folding"): the op that produces the consumers' input must absorb a
/// division of each input channel by s exactly, so that W·diag(s) applied to x/s is the original layer and the graph
/// is unchanged. The model graph is not inspected; candidates are tried and kept only when the outputs do not move
/// (relative L2 ≤ <see cref="Tolerance"/>) with a random positive r in place of s — first every candidate against the
/// current block's outputs on its held inputs (cheap; only a producer inside the block can pass, and then nothing after
/// the block can see the change), then at most <see cref="MaxOutsideCandidates"/> against the whole model's outputs on
/// a few calibration samples (a producer in an earlier block):
/// <list type="number">
/// <item>an earlier linear or conv layer with as many output channels (its weight rows and bias), nearest first —
/// v_proj → o_proj, fc1 → ReLU → fc2;</item>
/// <item>the per-channel affine parameters of a normalisation (1-D tensors of the channel count that are not running
/// statistics: a LayerNorm's weight and bias, a BatchNormalization's scale and bias), grouped by name prefix, or as
/// neighbouring pairs where names are flat (Parameter96, Parameter97).</item>
/// </list>
/// A LayerNorm whose output also feeds a residual connection (every BERT-style post-norm block) or a layer followed by
/// a non-homogeneous activation (GELU) fails the check: those groups are not scaled.</summary>
public static class ScaleFolding
{
    /// <summary>The largest relative change of the model's outputs a valid fold may cause (float32 rounding of the
    /// rescaled weights through a few layers: ~1e−6; a wrong fold changes outputs by O(1)).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Candidates tried against the whole model (producers before the current block): the nearest earlier
    /// layers first, then parameter groups by the length of the name prefix they share with the consumer.</summary>
    public const int MaxOutsideCandidates = 8;

    /// <summary>A producer found: the tensors whose dimension 0 is divided by s.</summary>
    /// <param name="Description">What it is, for messages.</param>
    /// <param name="Tensors">Weight rows, biases or affine parameters (dimension 0 = channels).</param>
    /// <param name="Names">The layer's or the parameters' names.</param>
    /// <param name="IsLayer">A linear or conv layer (rather than normalisation parameters).</param>
    public sealed record Producer(string Description, IReadOnlyList<Tensor> Tensors, IReadOnlyList<string> Names, bool IsLayer)
    {
        /// <summary>Whether it passed the check against the current block's outputs (it lies inside the block).</summary>
        public bool InsideBlock { get; init; }
    }

    /// <summary>Finds the producer of the input of <paramref name="consumers"/> (C input channels), or null.</summary>
    /// <param name="model">The model.</param>
    /// <param name="consumers">The layers reading the value (Linear or Conv2d).</param>
    /// <param name="channels">C.</param>
    /// <param name="probe">The model's outputs on a few calibration samples (flattened).</param>
    /// <param name="seed">Seed of the random test scaling.</param>
    /// <param name="blockProbe">The current block's outputs on its held inputs (flattened), or null.</param>
    public static Producer? Find(CompressibleModel model, IReadOnlyList<string> consumers, long channels, Func<Tensor> probe, long seed, Func<Tensor>? blockProbe = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var consumerWeights = consumers.Select(c => WeightOf(model.GetLayer(c))).ToList();
        // U(0.5, 2), drawn on the CPU (the seeded generator's device) and moved to the model's.
        var r = rand(channels, generator: new Generator((ulong)seed), device: CPU).mul(1.5).add(0.5).to(consumerWeights[0].device);
        var candidates = Candidates(model, consumers, channels).ToList();
        if (blockProbe is not null && Try(candidates, consumerWeights, r, blockProbe) is { } inside) return inside with { InsideBlock = true };
        string consumer = consumers[0];
        int Shared(Producer p) => p.Names.Max(n => n.Zip(consumer).TakeWhile(c => c.First == c.Second).Count());
        var outside = candidates.Where(c => c.IsLayer).Take(3).Concat(candidates.Where(c => !c.IsLayer).OrderByDescending(Shared))
            .Take(blockProbe is null ? int.MaxValue : MaxOutsideCandidates).ToList();
        return Try(outside, consumerWeights, r, probe);
    }

    private static Producer? Try(IReadOnlyList<Producer> candidates, IReadOnlyList<Tensor> consumerWeights, Tensor r, Func<Tensor> probe)
    {
        var reference = probe();
        foreach (var candidate in candidates)
        {
            var saved = candidate.Tensors.Concat(consumerWeights).Select(t => t.clone()).ToList();
            try
            {
                Apply(candidate, consumerWeights, r);
                var moved = probe();
                double change = moved.sub(reference).norm().item<float>() / Math.Max(1e-30, reference.norm().item<float>());
                if (change <= Tolerance) return candidate;
            }
            finally
            {
                var all = candidate.Tensors.Concat(consumerWeights).ToList();
                for (int i = 0; i < all.Count; i++) all[i].copy_(saved[i]);
            }
        }
        return null;
    }

    /// <summary>Divides the producer's channels by <paramref name="s"/> [C] and multiplies the consumers' input channels by it.</summary>
    public static void Apply(Producer producer, IReadOnlyList<Tensor> consumerWeights, Tensor s)
    {
        using var noGrad = no_grad();
        foreach (var t in producer.Tensors) t.div_(s.reshape([s.shape[0], .. Enumerable.Repeat(1L, (int)t.dim() - 1)]));
        foreach (var w in consumerWeights)
            w.mul_(s.reshape([1, s.shape[0], .. Enumerable.Repeat(1L, (int)w.dim() - 2)]));
    }

    /// <summary>The weight parameter of a Linear or Conv2d (a live tensor: in-place changes change the layer).</summary>
    public static Tensor WeightOf(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => l.weight!,
        TorchSharp.Modules.Conv2d c => c.weight!,
        _ => throw new ArgumentException($"gptq: unsupported layer {m.GetType().Name}"),
    };

    private static IEnumerable<Producer> Candidates(CompressibleModel model, IReadOnlyList<string> consumers, long channels)
    {
        var layers = model.Layers();
        int first = layers.ToList().FindIndex(l => consumers.Contains(l.Name));
        // 1. Earlier layers with C output channels, nearest first.
        int tried = 0;
        for (int i = first - 1; i >= 0 && tried < 3; i--)
        {
            var m = layers[i].Module;
            if (m is ICompressedLayer || (m is not TorchSharp.Modules.Linear && m is not TorchSharp.Modules.Conv2d)) continue;
            var w = WeightOf(m);
            if (w.shape[0] != channels) continue;
            tried++;
            var bias = m is TorchSharp.Modules.Linear l ? l.bias : ((TorchSharp.Modules.Conv2d)m).bias;
            yield return new Producer($"layer {layers[i].Name}", bias is null ? [w] : [w, bias], [layers[i].Name], true);
        }
        // 2. Per-channel affine parameters outside the replaceable layers.
        var layerNames = layers.Select(l => l.Name + ".").ToList();
        var vectors = new List<(string Name, Tensor Tensor)>();
        foreach (var (prefix, module) in model.NamedModules())
        {
            if (module is TorchSharp.Modules.Linear or TorchSharp.Modules.Conv2d or ICompressedLayer) continue;
            var own = module.named_parameters(recurse: false).Select(p => (p.name, (Tensor)p.parameter))
                .Concat(module.named_buffers(recurse: false).Select(b => (b.name, b.buffer)));
            foreach (var (local, t) in own)
            {
                if (t.dim() != 1 || t.shape[0] != channels || !t.is_floating_point()) continue;
                string name = prefix.Length == 0 ? local : prefix + "." + local;
                if (layerNames.Any(n => name.StartsWith(n, StringComparison.Ordinal))) continue;
                string leaf = local.ToLowerInvariant();
                if (leaf.Contains("mean") || leaf.Contains("var") || leaf.Contains("running")) continue;
                vectors.Add((name, t));
            }
        }
        string Prefix(string n) => n.LastIndexOf('.') is var d and > 0 ? n[..d] : "";
        foreach (var group in vectors.GroupBy(v => Prefix(v.Name)).Where(g => g.Key.Length > 0))
            yield return new Producer($"parameters {string.Join(", ", group.Select(v => v.Name))}", group.Select(v => v.Tensor).ToList(), group.Select(v => v.Name).ToList(), false);
        var flat = vectors.Where(v => Prefix(v.Name).Length == 0 || vectors.Count(o => Prefix(o.Name) == Prefix(v.Name)) == 1).ToList();
        for (int i = 0; i + 1 < flat.Count; i++)
            yield return new Producer($"parameters {flat[i].Name}, {flat[i + 1].Name}", [flat[i].Tensor, flat[i + 1].Tensor], [flat[i].Name, flat[i + 1].Name], false);
    }
}
