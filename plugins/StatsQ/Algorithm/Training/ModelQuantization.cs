using Compressor.Plugins.StatsQ.Algorithm.Qat;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Plugins.StatsQ.Algorithm;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Rewrites a model for QAT. On a model that reports its transformer structure (the built-in ViT/DeiT; README "Where the quantizers go"): every block's attention becomes
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
        return model.Transformer is { } layout ? ApplyTransformer(model, layout, o, selector) : ApplyWeightOnly(model, o, selector);
    }

    private static List<QuantizedTensor> ApplyTransformer(CompressibleModel model, TransformerLayout layout, StatsQOptions o, LayerSelector selector)
    {
        var tensors = new List<QuantizedTensor>();
        foreach (var input in layout.Inputs)
            if (selector.Matches(input) && model.GetLayer(input) is TorchSharp.Modules.Conv2d conv)
                model.ReplaceLayer(input, new QatConv2d(conv, o.FirstLastBits), disposeOld: false);
        foreach (var head in layout.Heads)
        {
            if (!selector.Matches(head)) continue;
            var lin = (TorchSharp.Modules.Linear)model.GetLayer(head);
            model.ReplaceLayer(head, new QatLinear(lin, WeightQuantizerKind.Lsq, o.FirstLastBits,
                new ActivationQuantizer(lin.in_features, o.FirstLastBits, signed: true, LsqGranularity.PerTensor, lin.weight!.device)), disposeOld: false);
        }
        foreach (var block in layout.Blocks)
        {
            var attention = block.Attention;
            string a = attention.Name;
            var qkv = (TorchSharp.Modules.Linear)model.GetLayer($"{a}.{attention.QueryKeyValue}");
            var proj = (TorchSharp.Modules.Linear)model.GetLayer($"{a}.{attention.Output}");
            long c = qkv.in_features;
            var projQ = new QatLinear(proj, o.Quantizer, o.WeightBits, new ActivationQuantizer(c, o.ActivationBits, signed: true, LsqGranularity.PerToken, proj.weight!.device));
            if (o.Qkr)
            {
                var qkr = new QkrAttention(qkv, projQ, attention.Heads, o.WeightBits, o.KeepQueryBias);
                model.ReplaceLayer(a, qkr, disposeOld: false);
                var v = (QatLinear)qkr.GetChild("v");
                tensors.Add(new QuantizedTensor($"{a}.qk", qkr.QueryKeyCodes, null, null, () =>
                {
                    using var w = qkr.QueryKeyProduct();
                    using var stacked = w.reshape(-1, w.shape[^1]);
                    return StatsQuantizer.Scale(stacked).flatten();
                }));
                tensors.Add(Track($"{a}.v", v, cga: true));
            }
            else
            {
                var qkvQ = new QatLinear(qkv, o.Quantizer, o.WeightBits, new ActivationQuantizer(c, o.ActivationBits, signed: true, LsqGranularity.PerToken, qkv.weight!.device));
                model.ReplaceLayer(a, new QatAttention(qkvQ, projQ, attention.Heads, o.ActivationBits), disposeOld: false);
                tensors.Add(Track($"{a}.qkv", qkvQ, cga: true));
            }
            tensors.Add(Track($"{a}.proj", projQ, cga: true));
            var fc1 = (TorchSharp.Modules.Linear)model.GetLayer(block.FeedForwardIn);
            var fc2 = (TorchSharp.Modules.Linear)model.GetLayer(block.FeedForwardOut);
            var fc1Q = new QatLinear(fc1, o.Quantizer, o.WeightBits, new ActivationQuantizer(fc1.in_features, o.ActivationBits, signed: true, LsqGranularity.PerToken, fc1.weight!.device));
            var fc2Q = new QatLinear(fc2, o.Quantizer, o.WeightBits, new ActivationQuantizer(fc2.in_features, o.ActivationBits, signed: false, LsqGranularity.PerToken, fc2.weight!.device));
            model.ReplaceLayer(block.FeedForwardIn, fc1Q, disposeOld: false);
            model.ReplaceLayer(block.FeedForwardOut, fc2Q, disposeOld: false);
            tensors.Add(Track(block.FeedForwardIn, fc1Q, cga: true));
            tensors.Add(Track(block.FeedForwardOut, fc2Q, cga: true));
        }
        return tensors;
    }

    private static List<QuantizedTensor> ApplyWeightOnly(CompressibleModel model, StatsQOptions o, LayerSelector selector)
    {
        var tensors = new List<QuantizedTensor>();
        foreach (var layer in model.Select(LayerType.Linear, selector))
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
