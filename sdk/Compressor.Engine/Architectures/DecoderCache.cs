using Compressor.Engine.Onnx.Export;
using static TorchSharp.torch;
using Names = Compressor.Engine.Onnx.Export.DecoderCacheNames;

namespace Compressor.Engine.Architectures;

/// <summary>What the decoders' key/value-cache graphs (<see cref="DecoderCacheNames"/>) share, in TorchSharp and as ONNX
/// nodes: the attention mask over past and new tokens, the defaults of omitted inputs, and the verification cases.
/// <para>The mask: the new tokens are the last S of T = past + S positions; query i (absolute position past + i) sees
/// key j when j ≤ past + i (causal), j &gt; past + i − w for a sliding window w, and <c>attention_mask[b, j]</c> is 1.
/// A hidden key gets the most negative float, not −∞ (as Hugging Face does): a query that sees no key at all (a padding
/// position of a left-padded batch) then averages instead of producing NaN, which would reach the real tokens through
/// the next layer's keys.</para></summary>
internal static class DecoderCache
{
    /// <summary>The additive score of a hidden key.</summary>
    public const float Hidden = float.MinValue;

    /// <summary>The additive mask [B, 1, S, T] for <paramref name="newTokens"/> new tokens and an attention mask [B, T].</summary>
    public static Tensor Mask(Tensor attentionMask, long newTokens, int slidingWindow)
    {
        using var scope = NewDisposeScope();
        long t = attentionMask.shape[1], past = t - newTokens;
        var device = attentionMask.device;
        var keys = arange(t, dtype: ScalarType.Int64, device: device).unsqueeze(0);                  // [1, T]
        var queries = arange(past, t, dtype: ScalarType.Int64, device: device).unsqueeze(1);         // [S, 1]
        var hidden = keys.gt(queries);
        if (slidingWindow > 0) hidden = hidden.logical_or(keys.le(queries.sub(slidingWindow)));
        var padding = attentionMask.eq(0).unsqueeze(1).unsqueeze(1);                                 // [B, 1, 1, T]
        hidden = hidden.unsqueeze(0).unsqueeze(0).logical_or(padding);                               // [B, 1, S, T]
        return zeros(hidden.shape, ScalarType.Float32, device).masked_fill(hidden, Hidden).MoveToOuterDisposeScope();
    }

    /// <summary>ONNX: the additive mask [B, 1, S, T] from the graph's <c>input_ids</c> [B, S] and <c>attention_mask</c> [B, T].</summary>
    public static string Mask(IOnnxExportContext c, string inputIds, string attentionMask, int slidingWindow)
    {
        string s = TransformerOnnx.Dim(c, inputIds, 1), t = TransformerOnnx.Dim(c, attentionMask, 1);
        string total = c.AddNode("Squeeze", t, c.Int64Constant(0));
        string past = c.AddNode("Squeeze", c.AddNode("Sub", t, s), c.Int64Constant(0));
        string zero = c.AddTensor("mask_zero", tensor(0L)), one = c.AddTensor("mask_one", tensor(1L));
        string keys = c.AddNode("Unsqueeze", c.AddNode("Range", zero, total, one), c.Int64Constant(0));       // [1, T]
        string queries = c.AddNode("Unsqueeze", c.AddNode("Range", past, total, one), c.Int64Constant(1));   // [S, 1]
        string hidden = c.AddNode("Greater", keys, queries);
        if (slidingWindow > 0)
            hidden = c.AddNode("Or", hidden, c.AddNode("Less", keys, c.AddNode("Add", queries, c.AddTensor("window", tensor(1L - slidingWindow)))));
        string padding = c.AddNode("Unsqueeze", c.AddNode("Equal", attentionMask, c.AddTensor("mask_pad", tensor(0L))), c.Int64Constant(1, 2));
        hidden = c.AddNode("Or", c.AddNode("Unsqueeze", hidden, c.Int64Constant(0, 1)), padding);
        return c.AddNode("Where", hidden, c.FloatConstant(Hidden), c.FloatConstant(0f));
    }

    /// <summary>The graph inputs with the omitted ones filled in as a runtime would: an empty past (batch × kvHeads ×
    /// 0 × headDim), a mask of ones over past and new tokens, and positions from the mask (<see cref="Positions"/>).
    /// Returns the token ids, mask, positions and per-layer (key, value) pasts.</summary>
    public static (Tensor Ids, Tensor Mask, Tensor Positions, (Tensor Key, Tensor Value)[] Past) Inputs(IReadOnlyDictionary<string, Tensor> inputs, int layers, int kvHeads, int headDim)
    {
        var ids = inputs.TryGetValue(Names.InputIds, out var i) ? i
            : throw new CompressException(ErrorKind.InvalidInput, $"the decoder needs '{Names.InputIds}'");
        if (ids.dim() != 2) throw new CompressException(ErrorKind.InvalidInput, $"'{Names.InputIds}' must be [batch, sequence], not [{string.Join(", ", ids.shape)}]");
        long b = ids.shape[0], s = ids.shape[1];
        var past = new (Tensor, Tensor)[layers];
        for (int l = 0; l < layers; l++)
        {
            Tensor Get(string name) => inputs.TryGetValue(name, out var t) ? t : zeros([b, kvHeads, 0, headDim], device: ids.device);
            past[l] = (Get(Names.PastKey(l)), Get(Names.PastValue(l)));
            foreach (var (name, t) in new[] { (Names.PastKey(l), past[l].Item1), (Names.PastValue(l), past[l].Item2) })
                if (t.dim() != 4 || t.shape[0] != b || t.shape[1] != kvHeads || t.shape[3] != headDim || t.shape[2] != past[0].Item1.shape[2])
                    throw new CompressException(ErrorKind.InvalidInput, $"'{name}' must be [{b}, {kvHeads}, past, {headDim}], not [{string.Join(", ", t.shape)}]");
        }
        long p = past.Length == 0 ? 0 : past[0].Item1.shape[2];
        var mask = inputs.TryGetValue(Names.AttentionMask, out var m) ? m : ones(b, p + s, dtype: ScalarType.Int64, device: ids.device);
        if (mask.dim() != 2 || mask.shape[0] != b || mask.shape[1] != p + s)
            throw new CompressException(ErrorKind.InvalidInput, $"'{Names.AttentionMask}' must be [{b}, {p + s}] (past + new tokens), not [{string.Join(", ", mask.shape)}]");
        var positions = inputs.TryGetValue(Names.PositionIds, out var q) ? q : Positions(mask, s);
        if (!positions.shape.SequenceEqual(ids.shape))
            throw new CompressException(ErrorKind.InvalidInput, $"'{Names.PositionIds}' must have the shape of '{Names.InputIds}' [{b}, {s}]");
        return (ids, mask, positions, past);
    }

    /// <summary>Positions as transformers and transformers.js derive them from the mask: cumsum(mask) − 1, padding at
    /// 1, the last <paramref name="newTokens"/> columns.</summary>
    public static Tensor Positions(Tensor attentionMask, long newTokens)
    {
        using var scope = NewDisposeScope();
        var p = attentionMask.cumsum(1, ScalarType.Int64).sub(1).masked_fill(attentionMask.eq(0), 1);
        return p.narrow(1, p.shape[1] - newTokens, newTokens).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The verification cases of a decoder: the prompt (16 tokens, or fewer for a short context, empty past:
    /// the gate's main case), one decoding step after 7 cached tokens, and a 3-token continuation after 4 cached
    /// tokens; in the last two the second row is left-padded (its first position masked), as in a batch of unequal
    /// prompts. Token ids and the cached keys and values (N(0, 1)) are seeded.</summary>
    public static IReadOnlyList<OnnxVerificationCase> VerificationCases(int seed, int layers, int kvHeads, int headDim, long vocab, long maxPositions)
    {
        var cases = new List<OnnxVerificationCase>();
        var g = new Generator((ulong)seed);
        OnnxVerificationCase Case(string name, long past, long s, bool padded)
        {
            const long b = 2;
            var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal)
            {
                [Names.InputIds] = randint(0, vocab, [b, s], generator: g, dtype: ScalarType.Int64),
            };
            var mask = ones(b, past + s, dtype: ScalarType.Int64);
            if (padded) mask[1, 0] = tensor(0L);
            inputs[Names.AttentionMask] = mask;
            inputs[Names.PositionIds] = Positions(mask, s);
            for (int l = 0; l < layers; l++)
            {
                inputs[Names.PastKey(l)] = randn([b, kvHeads, past, headDim], generator: g);
                inputs[Names.PastValue(l)] = randn([b, kvHeads, past, headDim], generator: g);
            }
            return new OnnxVerificationCase(name, inputs);
        }
        cases.Add(Case("prefill", 0, Math.Min(16, maxPositions), padded: false));
        if (maxPositions >= 8) cases.Add(Case("decode step", 7, 1, padded: true));
        if (maxPositions >= 7) cases.Add(Case("continuation", 4, 3, padded: true));
        return cases;
    }
}
