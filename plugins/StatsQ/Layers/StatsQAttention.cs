using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The shipped form of a quantized attention (kind <c>statsq_attention</c>), one compressed layer so that its
/// integer weights and its frozen activation quantizers travel and lower together.
/// <para>Standard (from <see cref="Algorithm.Qat.QatAttention"/>): <c>qkv</c> and <c>proj</c> are <see cref="CodedLinear"/>s
/// with their input quantizers; q and k are fake-quantized per token (<c>q_quant</c>, <c>k_quant</c>), v per channel
/// (<c>v_quant</c>), the softmax probabilities unsigned per query row (<c>attn_quant</c>).</para>
/// <para>QKR (from <see cref="Algorithm.Qat.QkrAttention"/>): the block input is quantized once (<c>act_in</c>, with shifts);
/// <c>qk</c> holds the stacked per-head W_qk [H·C, C] as StatsQ codes, so T = X_q·Q(W_qk^h)ᵀ is one coded product,
/// fake-quantized per (head, token) (<c>t_quant</c>, scale [H, N, 1]); logits = X_q·Tᵀ/√d (plus, when the query bias
/// was kept, X_q·(b_qᵀW_k^h)ᵀ from buffer <c>query_bias_key</c> [H, C]); V is the coded <c>v</c> with
/// <c>v_quant</c>, then <c>attn_quant</c> and <c>proj</c> as above.</para></summary>
public sealed class StatsQAttention : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    private readonly Dictionary<string, nn.Module> _parts = new(StringComparer.Ordinal);

    /// <summary>Creates the attention from its parts (see the class summary for the names each form needs).</summary>
    public StatsQAttention(long dim, int heads, bool qkr, IReadOnlyDictionary<string, nn.Module> parts, Tensor? queryBiasKey) : base(nameof(StatsQAttention))
    {
        Dim = dim; Heads = heads; Qkr = qkr;
        string[] needed = qkr ? ["act_in", "qk", "t_quant", "v", "v_quant", "attn_quant", "proj"] : ["qkv", "q_quant", "k_quant", "v_quant", "attn_quant", "proj"];
        foreach (var name in needed)
        {
            if (!parts.TryGetValue(name, out var m)) throw new ArgumentException($"statsq attention: part '{name}' is missing");
            register_module(name, m);
            _parts[name] = m;
        }
        if (queryBiasKey is not null) register_buffer("query_bias_key", queryBiasKey.DetachFromDisposeScope());
    }

    /// <summary>Model width C.</summary>
    public long Dim { get; }

    /// <summary>Heads H.</summary>
    public int Heads { get; }

    /// <summary>Query–key reparameterized form.</summary>
    public bool Qkr { get; }

    /// <summary>A coded linear part (<c>qkv</c>, <c>qk</c>, <c>v</c>, <c>proj</c>).</summary>
    public CodedLinear Linear(string name) => (CodedLinear)_parts[name];

    /// <summary>An activation quantizer part.</summary>
    public FrozenActivationQuantizer Quantizer(string name) => (FrozenActivationQuantizer)_parts[name];

    /// <summary>b_qᵀ·W_k per head [H, C] when the query bias was kept, else null.</summary>
    public Tensor? QueryBiasKey => get_buffer("query_bias_key");

    /// <summary>The coded linear parts in a fixed order.</summary>
    public IEnumerable<(string Name, CodedLinear Linear)> Linears => (Qkr ? new[] { "qk", "v", "proj" } : ["qkv", "proj"]).Select(n => (n, Linear(n)));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], d = c / Heads;
        Tensor attn, v;
        if (Qkr)
        {
            var xq = Quantizer("act_in").forward(x);
            var t = Linear("qk").Project(xq).reshape(b, n, Heads, c).permute(0, 2, 1, 3);
            t = Quantizer("t_quant").forward(t);
            var logits = xq.unsqueeze(1).matmul(t.transpose(-2, -1));
            if (QueryBiasKey is { } bk) logits = logits.add(xq.matmul(bk.t()).transpose(1, 2).unsqueeze(2));
            attn = logits.mul(1.0 / Math.Sqrt(d)).softmax(-1);
            v = Quantizer("v_quant").forward(Linear("v").Project(xq));
        }
        else
        {
            var qkv = Linear("qkv").forward(x).reshape(b, n, 3, Heads, d).permute(2, 0, 3, 1, 4);
            var q = Quantizer("q_quant").forward(qkv[0]);
            var k = Quantizer("k_quant").forward(qkv[1]);
            v = Quantizer("v_quant").forward(qkv[2].transpose(1, 2).reshape(b, n, c));
            attn = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(d)).softmax(-1);
        }
        attn = Quantizer("attn_quant").forward(attn);
        var heads = v.reshape(b, n, Heads, d).transpose(1, 2);
        var o = attn.matmul(heads).transpose(1, 2).reshape(b, n, c);
        return Linear("proj").forward(o).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Kind => StatsQAttentionKind.KindId;

    /// <inheritdoc/>
    public object Config => new StatsQAttentionConfig(Dim, Heads, Qkr, QueryBiasKey is not null, _parts.ToDictionary(p => p.Key, p => p.Value switch
    {
        CodedLinear l => new StatsQAttentionPart(Linear: l.LinearConfig),
        FrozenActivationQuantizer q => new StatsQAttentionPart(Quantizer: q.Config),
        _ => throw new InvalidOperationException($"statsq attention: part '{p.Key}' is a {p.Value.GetType().Name}"),
    }, StringComparer.Ordinal));

    /// <summary>All coded weights, flattened and concatenated in <see cref="Linears"/> order.</summary>
    public long[] DenseWeightShape => [Linears.Sum(l => l.Linear.InFeatures * l.Linear.OutFeatures)];

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var scope = NewDisposeScope();
        return cat(Linears.Select(l => l.Linear.DenseWeight().flatten()).ToList(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>Codes, steps and the input quantizers of the coded parts, every other activation quantizer's scale,
    /// the kept query-bias term, and the float32 biases of its parts (the SDK adds a compressed layer's own
    /// <c>bias</c> to the theoretical size, not those of its parts).</summary>
    public long WeightStorageBits => Linears.Sum(l => l.Linear.StorageBits + (l.Linear.Bias?.numel() ?? 0) * 32)
                                     + _parts.Values.OfType<FrozenActivationQuantizer>().Sum(q => q.StorageBits)
                                     + (QueryBiasKey?.numel() ?? 0) * 32;
}
