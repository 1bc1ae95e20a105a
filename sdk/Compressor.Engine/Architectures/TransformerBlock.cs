using Compressor.Sdk.Models;
using Compressor.Engine.Onnx.Export;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)). Child names follow
/// <see cref="BlockNames"/>; every linear is replaceable.</summary>
public sealed class TransformerBlock : LayerContainer, IOnnxExportable
{
    private readonly BlockNames _names;

    /// <summary>Creates the block.</summary>
    public TransformerBlock(int dim, int heads, int mlpRatio, bool qkvBias, bool causal, double eps, BlockNames names, bool tanhGelu = false, int hidden = 0)
        : base("block")
    {
        _names = names;
        register_module(names.Norm1, nn.LayerNorm(dim, eps));
        register_module(names.Attention, new SelfAttention(dim, heads, qkvBias, causal, names));
        register_module(names.Norm2, nn.LayerNorm(dim, eps));
        register_module(names.Mlp, new FeedForward(dim, hidden > 0 ? hidden : dim * mlpRatio, names, tanhGelu));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.add(Child(_names.Attention).forward(Child(_names.Norm1).forward(x)));
        var y = h.add(Child(_names.Mlp).forward(Child(_names.Norm2).forward(h)));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>SmoothQuant's fold (<see cref="CompressibleModel.FoldInputScale"/>) for one layer of this block, named
    /// relative to it: the q/k/v projection's input is norm1's output and fc1's is norm2's (pre-norm: nothing else
    /// reads them), so their scale and shift absorb the division; the output projection reads attn·v, whose channels
    /// are v's, so the v rows of a still-dense q/k/v projection absorb it. Returns the absorbing module's relative
    /// name, or null.</summary>
    public string? FoldInputScale(string layer, Tensor divisor)
    {
        using var noGrad = no_grad();
        if (layer == _names.Attention + "." + _names.Qkv) return FoldIntoNorm(_names.Norm1, divisor);
        if (layer == _names.Mlp + "." + _names.Fc1) return FoldIntoNorm(_names.Norm2, divisor);
        if (layer == _names.Attention + "." + _names.Proj && Child(_names.Attention) is SelfAttention attention
            && attention.named_children().FirstOrDefault(c => c.name == _names.Qkv).module is TorchSharp.Modules.Linear qkv)
        {
            long c = divisor.numel();
            if (qkv.weight!.shape[0] != 3 * c) return null;
            var s = divisor.to(qkv.weight!.device).to_type(qkv.weight!.dtype);
            qkv.weight!.narrow(0, 2 * c, c).div_(s.unsqueeze(1));
            qkv.bias?.narrow(0, 2 * c, c).div_(s);
            return _names.Attention + "." + _names.Qkv + " (value rows)";
        }
        return null;
    }

    private string? FoldIntoNorm(string name, Tensor divisor)
    {
        if (Child(name) is not TorchSharp.Modules.LayerNorm norm || norm.weight is null || norm.weight.numel() != divisor.numel()) return null;
        var s = divisor.to(norm.weight.device).to_type(norm.weight.dtype);
        norm.weight.div_(s);
        norm.bias?.div_(s);
        return name;
    }

    /// <summary>The block on new tokens with a cache (a causal decoder's): the additive mask [B, 1, S, past + S] and the
    /// past keys and values [B, H, past, d]; returns the output and the keys and values with the new ones appended.</summary>
    public (Tensor Output, Tensor Key, Tensor Value) ForwardCached(Tensor x, Tensor mask, Tensor pastKey, Tensor pastValue)
    {
        using var scope = NewDisposeScope();
        var (a, k, v) = ((SelfAttention)GetChild(_names.Attention)).ForwardCached(Child(_names.Norm1).forward(x), mask, pastKey, pastValue);
        var h = x.add(a);
        var y = h.add(Child(_names.Mlp).forward(Child(_names.Norm2).forward(h)));
        return (y.MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>Emits the block on x alone (returns its output), or, with a cache, on (x, mask, past key, past value)
    /// (returns output, present key, present value).</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        var a = c.EmitChild(_names.Attention, [c.EmitChild(_names.Norm1, [x])[0], .. inputs.Skip(1)]);
        string h = c.AddNode("Add", x, a[0]);
        string m = c.EmitChild(_names.Mlp, c.EmitChild(_names.Norm2, [h]))[0];
        return [c.AddNode("Add", h, m), .. a.Skip(1)];
    }
}

/// <summary>Multi-head self-attention with a fused q/k/v projection (<c>qkv</c> / <c>c_attn</c>, output features
/// ordered [q | k | v], each split into heads) and an output projection.</summary>
public sealed class SelfAttention : LayerContainer, IOnnxExportable
{
    private readonly int _heads, _dim;
    private readonly bool _causal;
    private readonly BlockNames _names;

    /// <summary>Creates the attention.</summary>
    public SelfAttention(int dim, int heads, bool qkvBias, bool causal, BlockNames names) : base("attn")
    {
        _heads = heads; _dim = dim; _causal = causal; _names = names;
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

    /// <summary>Attention on new tokens x [B, S, C] with a cache: the additive mask [B, 1, S, past + S] (causality and
    /// padding) and the past keys and values [B, H, past, d]. Returns the output and the keys and values with the new
    /// ones appended.</summary>
    public (Tensor Output, Tensor Key, Tensor Value) ForwardCached(Tensor x, Tensor mask, Tensor pastKey, Tensor pastValue)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], d = c / _heads;
        var qkv = Child(_names.Qkv).forward(x).reshape(b, n, 3, _heads, d).permute(2, 0, 3, 1, 4);
        var k = cat([pastKey, qkv[1]], 2);
        var v = cat([pastValue, qkv[2]], 2);
        var o = AttentionMath.Attend(qkv[0], k, v, mask);
        return (Child(_names.Proj).forward(o).MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>Emits the attention on x alone (returns its output; causal as configured), or, with a cache, on (x,
    /// additive mask, past key, past value) as <see cref="ForwardCached"/> computes it (returns output, present key,
    /// present value).</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        long dim = _dim, d = dim / _heads;
        string qkv = c.EmitChild(_names.Qkv, [inputs[0]])[0];
        string split = TransformerOnnx.Transpose(c, TransformerOnnx.Reshape(c, qkv, 0, 0, 3, _heads, d), 2, 0, 3, 1, 4);
        string q = TransformerOnnx.Select(c, split, 0, 0), k = TransformerOnnx.Select(c, split, 0, 1), v = TransformerOnnx.Select(c, split, 0, 2);
        if (inputs.Count == 4)
        {
            var concat = new Dictionary<string, object> { ["axis"] = 2L };
            k = c.AddNode("Concat", [inputs[2], k], [c.UniqueName("Concat")], concat);
            v = c.AddNode("Concat", [inputs[3], v], [c.UniqueName("Concat")], concat);
            return [c.EmitChild(_names.Proj, [AttentionMath.Attend(c, q, k, v, inputs[1], d)])[0], k, v];
        }
        string scores = c.AddNode("Mul", c.AddNode("MatMul", q, TransformerOnnx.Transpose(c, k, 0, 1, 3, 2)), c.FloatConstant((float)(1.0 / Math.Sqrt(d))));
        if (_causal)
        {
            // −∞ above the diagonal, built in the graph for the current length T: Expand(−∞, [T, T]) → Trilu(k = 1,
            // upper) keeps −∞ strictly above the diagonal and zeroes the rest. Nothing of size context² is stored.
            c.RequireOpset("", 14);
            string t = TransformerOnnx.Dim(c, inputs[0], 1);
            string shape = c.AddNode("Concat", [t, t], [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = 0L });
            string full = c.AddNode("Expand", c.FloatConstant(float.NegativeInfinity), shape);
            string diagonal = c.AddTensor("causal_diagonal", torch.tensor(1L));
            string square = c.AddNode("Trilu", [full, diagonal], [c.UniqueName("Trilu")], new Dictionary<string, object> { ["upper"] = 1L });
            scores = c.AddNode("Add", scores, square);
        }
        string attn = c.AddNode("Softmax", [scores], [c.UniqueName("Softmax")], new Dictionary<string, object> { ["axis"] = -1L });
        string o = TransformerOnnx.Reshape(c, TransformerOnnx.Transpose(c, c.AddNode("MatMul", attn, v), 0, 2, 1, 3), 0, 0, dim);
        return c.EmitChild(_names.Proj, [o]);
    }
}

/// <summary>The feed-forward network: fc1 → GELU → fc2 (<c>c_fc</c>/<c>c_proj</c> in GPT-2 names).</summary>
public sealed class FeedForward : LayerContainer, IOnnxExportable
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

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string h = c.EmitChild(_names.Fc1, [inputs[0]])[0];
        return c.EmitChild(_names.Fc2, [TransformerOnnx.Gelu(c, h, _tanhGelu)]);
    }
}
