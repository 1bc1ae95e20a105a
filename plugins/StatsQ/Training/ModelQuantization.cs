using Compressor.Plugins.StatsQ.Layers;
using Compressor.Plugins.StatsQ.Quantizers;
using Compressor.Sdk;
using Compressor.Sdk.Architectures;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Training;

/// <summary>Rewrites a model for QAT. On the built-in ViT/DeiT (ALGORITHMS.md §1.4): every block's attention becomes
/// <see cref="QkrAttention"/> (with <c>--qkr</c>) or <see cref="QatAttention"/>; fc1 and fc2 become
/// <see cref="QatLinear"/>s with signed and unsigned (after GELU) per-token input quantizers; the patch embedding and
/// the heads get <c>--first-last-bits</c> LSQ weights and inputs; LayerNorm, GELU/softmax math, residuals, biases,
/// tokens and positions stay FP. Any other model: the selected linear layers get weight-only quantization.</summary>
public static class ModelQuantization
{
    /// <summary>Rewrites <paramref name="model"/> in place and lists the quantized weight tensors.</summary>
    public static List<QuantizedTensor> Apply(CompressibleModel model, StatsQOptions o)
    {
        var selector = new LayerSelector(o.Include, o.Exclude);
        return model.Module is VisionTransformer vit ? ApplyVit(model, vit, o, selector) : ApplyWeightOnly(model, o, selector);
    }

    private static List<QuantizedTensor> ApplyVit(CompressibleModel model, VisionTransformer vit, StatsQOptions o, LayerSelector selector)
    {
        var tensors = new List<QuantizedTensor>();
        int blocks = ((LayerList)vit.GetChild("blocks")).Count;
        if (selector.Matches("patch_embed.proj"))
            model.ReplaceLayer("patch_embed.proj", new QatConv2d((TorchSharp.Modules.Conv2d)model.GetLayer("patch_embed.proj"), o.FirstLastBits), disposeOld: false);
        foreach (var head in new[] { "head", "head_dist" })
        {
            if (!vit.Distilled && head == "head_dist") continue;
            if (!selector.Matches(head)) continue;
            var lin = (TorchSharp.Modules.Linear)model.GetLayer(head);
            model.ReplaceLayer(head, new QatLinear(lin, WeightQuantizerKind.Lsq, o.FirstLastBits,
                new ActivationQuantizer(lin.in_features, o.FirstLastBits, signed: true, LsqGranularity.PerTensor)), disposeOld: false);
        }
        for (int i = 0; i < blocks; i++)
        {
            string p = $"blocks.{i}";
            var attn = (SelfAttention)model.GetLayer($"{p}.attn");
            var qkv = (TorchSharp.Modules.Linear)attn.GetChild("qkv");
            var proj = (TorchSharp.Modules.Linear)attn.GetChild("proj");
            long c = qkv.in_features;
            var projQ = new QatLinear(proj, o.Quantizer, o.WeightBits, new ActivationQuantizer(c, o.ActBits, signed: true, LsqGranularity.PerToken));
            if (o.Qkr)
            {
                var qkr = new QkrAttention(qkv, projQ, attn.Heads, o.WeightBits, o.KeepQueryBias);
                model.ReplaceLayer($"{p}.attn", qkr, disposeOld: false);
                var v = (QatLinear)qkr.GetChild("v");
                tensors.Add(new QuantizedTensor($"{p}.attn.qk", qkr.QueryKeyCodes, null, null, () =>
                {
                    using var w = qkr.QueryKeyProduct();
                    using var stacked = w.reshape(-1, w.shape[^1]);
                    return StatsQuantizer.Scale(stacked).flatten();
                }));
                tensors.Add(Track($"{p}.attn.v", v, cga: true));
            }
            else
            {
                var qkvQ = new QatLinear(qkv, o.Quantizer, o.WeightBits, new ActivationQuantizer(c, o.ActBits, signed: true, LsqGranularity.PerToken));
                model.ReplaceLayer($"{p}.attn", new QatAttention(qkvQ, projQ, attn.Heads, o.ActBits), disposeOld: false);
                tensors.Add(Track($"{p}.attn.qkv", qkvQ, cga: true));
            }
            tensors.Add(Track($"{p}.attn.proj", projQ, cga: true));
            var fc1 = (TorchSharp.Modules.Linear)model.GetLayer($"{p}.mlp.fc1");
            var fc2 = (TorchSharp.Modules.Linear)model.GetLayer($"{p}.mlp.fc2");
            var fc1Q = new QatLinear(fc1, o.Quantizer, o.WeightBits, new ActivationQuantizer(fc1.in_features, o.ActBits, signed: true, LsqGranularity.PerToken));
            var fc2Q = new QatLinear(fc2, o.Quantizer, o.WeightBits, new ActivationQuantizer(fc2.in_features, o.ActBits, signed: false, LsqGranularity.PerToken));
            model.ReplaceLayer($"{p}.mlp.fc1", fc1Q, disposeOld: false);
            model.ReplaceLayer($"{p}.mlp.fc2", fc2Q, disposeOld: false);
            tensors.Add(Track($"{p}.mlp.fc1", fc1Q, cga: true));
            tensors.Add(Track($"{p}.mlp.fc2", fc2Q, cga: true));
        }
        return tensors;
    }

    private static List<QuantizedTensor> ApplyWeightOnly(CompressibleModel model, StatsQOptions o, LayerSelector selector)
    {
        var tensors = new List<QuantizedTensor>();
        foreach (var layer in model.Select(LayerKind.Linear, selector))
        {
            var q = new QatLinear((TorchSharp.Modules.Linear)layer.Module, o.Quantizer, o.WeightBits, act: null);
            model.ReplaceLayer(layer.Name, q, disposeOld: false);
            tensors.Add(Track(layer.Name, q, cga: true));
        }
        if (tensors.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "statsq: no linear layer matches --include/--exclude");
        return tensors;
    }

    private static QuantizedTensor Track(string name, QatLinear q, bool cga)
    {
        bool statsq = q.Kind == WeightQuantizerKind.StatsQ;
        return new QuantizedTensor(name, q.WeightCodes,
            cga && statsq ? q.Linear.weight : null,
            cga && statsq ? () => StatsQuantizer.PreRounding(q.Linear.weight!, q.WeightBits) : null,
            () => statsq ? StatsQuantizer.Scale(q.Linear.weight!).flatten() : q.WeightLsq!.Scale!.detach().flatten().clone());
    }
}
