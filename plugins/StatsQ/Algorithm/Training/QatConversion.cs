using Compressor.Plugins.StatsQ.Algorithm.Qat;
using Compressor.Plugins.StatsQ.Layers;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Turns the QAT modules of a trained model into their shipped, compressed forms: every
/// <see cref="QatAttention"/> / <see cref="QkrAttention"/> into a <see cref="StatsQAttention"/>, every other
/// <see cref="QatLinear"/> into a <see cref="StatsQLinear"/>, the patch embedding's <see cref="QatConv2d"/> into a
/// <see cref="StatsQConv2d"/>. Codes are those the QAT forward used at the last step (StatsQ: k = round(clamp(W/s)·n
/// − 0.5), a = s/n; LSQ: k = clamp(round(W/s)), a = s); activation scales are frozen as learned.</summary>
public static class QatConversion
{
    /// <summary>Replaces the QAT modules of <paramref name="model"/> in place; adds a report row per compressed layer
    /// (weight SQNR against the latent QAT weight it quantizes). Returns the number of layers replaced.</summary>
    public static int Apply(CompressibleModel model, ReportBuilder? report, Device device)
    {
        var replaced = new List<string>();
        foreach (var (name, module) in model.NamedModules().ToList())
        {
            if (name.Length == 0 || replaced.Any(r => name.StartsWith(r + ".", StringComparison.Ordinal))) continue;
            (nn.Module Compressed, Tensor Latent)? shipped = module switch
            {
                QkrAttention a => Convert(a),
                QatAttention a => Convert(a),
                QatLinear l => Convert(l),
                QatConv2d c => Convert(c),
                _ => null,
            };
            if (shipped is not { } s) continue;
            using (s.Latent)
            {
                if (report is not null) report.AddLayer(name, (ICompressedLayer)s.Compressed, s.Latent);
            }
            s.Compressed.to(device);
            model.ReplaceLayer(name, s.Compressed);
            replaced.Add(name);
        }
        return replaced.Count;
    }

    /// <summary>The coded form of a QAT linear (codes and steps of its current weight) and its latent weight.</summary>
    internal static (T Coded, Tensor Latent) Code<T>(QatLinear q, Func<long, long, int, bool, bool, FrozenActivationQuantizer?, Device, T> create) where T : CodedLinear
    {
        var lin = q.Linear;
        var input = q.Activation is { } a ? Freeze(a) : null;
        bool statsq = q.Kind == WeightQuantizerKind.StatsQ;
        var coded = create(lin.in_features, lin.out_features, q.WeightBits, statsq, lin.bias is not null, input, lin.weight!.device);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var w = lin.weight!.detach();
            var (codes, step) = statsq
                ? (StatsQuantizer.Codes(w, q.WeightBits), StatsQuantizer.Scale(w).div(1 << (q.WeightBits - 1)))
                : (q.WeightLsq!.Codes(w), q.WeightLsq!.Scale!.detach().clamp_min(1e-5));
            coded.SetState(codes, step, lin.bias?.detach());
        }
        using var latent = lin.weight!.detach();
        return (coded, latent.clone());
    }

    private static (nn.Module, Tensor) Convert(QatLinear q) =>
        Code(q, (i, o, b, zl, bias, input, device) => new StatsQLinear(i, o, b, zl, bias, input, device));

    private static CodedLinear Plain(QatLinear q, List<Tensor> latents)
    {
        var (coded, latent) = Code(q, (i, o, b, zl, bias, input, device) => new CodedLinear(i, o, b, zl, bias, input, device: device));
        latents.Add(latent);
        return coded;
    }

    private static (nn.Module, Tensor) Convert(QatAttention a)
    {
        var latents = new List<Tensor>();
        var parts = new Dictionary<string, nn.Module>(StringComparer.Ordinal)
        {
            ["qkv"] = Plain((QatLinear)a.GetChild("qkv"), latents),
            ["q_quant"] = Freeze((LsqQuantizer)a.GetChild("q_quant")),
            ["k_quant"] = Freeze((LsqQuantizer)a.GetChild("k_quant")),
            ["v_quant"] = Freeze((LsqQuantizer)a.GetChild("v_quant")),
            ["attn_quant"] = Freeze((LsqQuantizer)a.GetChild("attn_quant")),
            ["proj"] = Plain((QatLinear)a.GetChild("proj"), latents),
        };
        return (new StatsQAttention(latents[0].shape[1], a.Heads, qkr: false, parts, null), Latent(latents));
    }

    private static (nn.Module, Tensor) Convert(QkrAttention a)
    {
        var latents = new List<Tensor>();
        long c;
        CodedLinear qk;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var wqk = a.QueryKeyProduct();
            var stacked = wqk.reshape(-1, wqk.shape[^1]);
            c = stacked.shape[1];
            qk = new CodedLinear(c, stacked.shape[0], a.Bits, zeroLess: true, hasBias: false, input: null, device: stacked.device);
            qk.SetState(StatsQuantizer.Codes(stacked, a.Bits), StatsQuantizer.Scale(stacked).div(1 << (a.Bits - 1)), null);
            latents.Add(stacked.clone().DetachFromDisposeScope());
        }
        var parts = new Dictionary<string, nn.Module>(StringComparer.Ordinal)
        {
            ["act_in"] = Freeze((ActivationQuantizer)a.GetChild("act_in")),
            ["qk"] = qk,
            ["t_quant"] = Freeze((LsqQuantizer)a.GetChild("t_quant")),
            ["v"] = Plain((QatLinear)a.GetChild("v"), latents),
            ["v_quant"] = Freeze((LsqQuantizer)a.GetChild("v_quant")),
            ["attn_quant"] = Freeze((LsqQuantizer)a.GetChild("attn_quant")),
            ["proj"] = Plain((QatLinear)a.GetChild("proj"), latents),
        };
        Tensor? queryBiasKey = null;
        if (a.QueryBias is { } bq)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            long d = c / a.Heads;
            var wk = a.get_parameter("k_weight")!.detach().reshape(a.Heads, d, c);
            queryBiasKey = bq.reshape(a.Heads, 1, d).matmul(wk).squeeze(1).contiguous().DetachFromDisposeScope();
        }
        return (new StatsQAttention(c, a.Heads, qkr: true, parts, queryBiasKey), Latent(latents));
    }

    private static (nn.Module, Tensor) Convert(QatConv2d q)
    {
        var conv = q.Conv;
        var wq = (LsqQuantizer)q.GetChild("wq");
        var act = Freeze((LsqQuantizer)q.GetChild("act"));
        using var w = conv.weight!.detach();
        if (conv.groups != 1 || conv.dilation.Any(x => x != 1))
            throw new CompressException(ErrorKind.PluginFailed, "statsq: only ungrouped, undilated convolutions have a shipped form");
        var shipped = new StatsQConv2d(w.shape[1], w.shape[0], [w.shape[2], w.shape[3]], conv.stride, conv.padding ?? [0L, 0L], wq.Bits, conv.bias is not null, act, w.device);
        using (var scope = NewDisposeScope())
        using (no_grad())
            shipped.SetState(wq.Codes(w), wq.Scale!.detach().clamp_min(1e-5), conv.bias?.detach());
        return (shipped, w.clone());
    }

    private static Tensor Latent(List<Tensor> latents)
    {
        Tensor flat;
        using (var scope = NewDisposeScope())
            flat = cat(latents.Select(t => t.flatten()).ToList(), 0).DetachFromDisposeScope();
        foreach (var t in latents) t.Dispose();
        return flat;
    }

    /// <summary>The shipped form of a trained LSQ activation quantizer: its scale, clamped to ≥ 1e−5 as in the reference.</summary>
    private static FrozenActivationQuantizer Freeze(LsqQuantizer q)
    {
        if (!q.IsInitialized) throw new InvalidOperationException("the activation quantizer never saw data (its scale does not exist)");
        var f = new FrozenActivationQuantizer(q.Scale!.shape, q.Bits, q.Signed, 0, q.Scale.device);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        f.Scale.copy_(q.Scale!.detach().clamp_min(1e-5));
        return f;
    }

    /// <summary>The shipped form of an activation quantizer with its learnable shifts before and after.</summary>
    private static FrozenActivationQuantizer Freeze(ActivationQuantizer a)
    {
        var q = a.Quant;
        if (!q.IsInitialized) throw new InvalidOperationException("the activation quantizer never saw data (its scale does not exist)");
        var f = new FrozenActivationQuantizer(q.Scale!.shape, q.Bits, q.Signed, a.Before.Bias.shape[0], q.Scale.device);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        f.Scale.copy_(q.Scale!.detach().clamp_min(1e-5));
        f.ShiftBefore!.copy_(a.Before.Bias.detach());
        f.ShiftAfter!.copy_(a.After.Bias.detach());
        return f;
    }

}
