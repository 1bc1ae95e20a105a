using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Architectures;

/// <summary>A pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)). Child names follow
/// <see cref="BlockNames"/>; every linear is replaceable.</summary>
public sealed class TransformerBlock : LayerContainer
{
    private readonly BlockNames _names;

    /// <summary>Creates the block.</summary>
    public TransformerBlock(int dim, int heads, int mlpRatio, bool qkvBias, bool causal, double eps, BlockNames names, bool tanhGelu = false)
        : base("block")
    {
        _names = names;
        register_module(names.Norm1, nn.LayerNorm(dim, eps));
        register_module(names.Attention, new SelfAttention(dim, heads, qkvBias, causal, names));
        register_module(names.Norm2, nn.LayerNorm(dim, eps));
        register_module(names.Mlp, new FeedForward(dim, dim * mlpRatio, names, tanhGelu));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.add(Child(_names.Attention).forward(Child(_names.Norm1).forward(x)));
        var y = h.add(Child(_names.Mlp).forward(Child(_names.Norm2).forward(h)));
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head self-attention with a fused q/k/v projection (<c>qkv</c> / <c>c_attn</c>, output features
/// ordered [q | k | v], each split into heads) and an output projection.</summary>
public sealed class SelfAttention : LayerContainer
{
    private readonly int _heads;
    private readonly bool _causal;
    private readonly BlockNames _names;

    /// <summary>Creates the attention.</summary>
    public SelfAttention(int dim, int heads, bool qkvBias, bool causal, BlockNames names) : base("attn")
    {
        _heads = heads; _causal = causal; _names = names;
        register_module(names.Qkv, nn.Linear(dim, 3 * dim, qkvBias));
        register_module(names.Proj, nn.Linear(dim, dim));
    }

    /// <summary>Number of heads.</summary>
    public int Heads => _heads;

    /// <summary>Whether each position attends only to itself and earlier positions.</summary>
    public bool Causal => _causal;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], d = c / _heads;
        var qkv = Child(_names.Qkv).forward(x).reshape(b, n, 3, _heads, d).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        var scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(d));
        if (_causal)
        {
            var mask = ones(n, n, dtype: ScalarType.Bool, device: x.device).triu(1);
            scores = scores.masked_fill(mask, float.NegativeInfinity);
        }
        var attn = scores.softmax(-1);
        var o = attn.matmul(v).transpose(1, 2).reshape(b, n, c);
        return Child(_names.Proj).forward(o).MoveToOuterDisposeScope();
    }
}

/// <summary>The feed-forward network: fc1 → GELU → fc2 (<c>c_fc</c>/<c>c_proj</c> in GPT-2 names).</summary>
public sealed class FeedForward : LayerContainer
{
    private readonly BlockNames _names;
    private readonly bool _tanhGelu;

    /// <summary>Creates the FFN.</summary>
    public FeedForward(int dim, int hidden, BlockNames names, bool tanhGelu) : base("mlp")
    {
        _names = names;
        _tanhGelu = tanhGelu;
        register_module(names.Fc1, nn.Linear(dim, hidden));
        register_module(names.Fc2, nn.Linear(hidden, dim));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var h = Child(_names.Fc1).forward(x);
        using var a = _tanhGelu ? nn.functional.gelu(h, TorchSharp.Modules.GELU.Approximate.tanh, false) : nn.functional.gelu(h);
        return Child(_names.Fc2).forward(a);
    }
}
