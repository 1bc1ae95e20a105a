using System.Globalization;

namespace Compressor.Engine.Onnx.Export;

/// <summary>The graph layout of a decoder with a key/value cache, as Optimum writes it and transformers.js and
/// onnxruntime-genai read it: inputs <c>input_ids</c> [batch_size, sequence_length], <c>attention_mask</c>
/// [batch_size, total_sequence_length], <c>position_ids</c> [batch_size, sequence_length] and, per layer N,
/// <c>past_key_values.N.key</c> / <c>.value</c> [batch_size, kv_heads, past_sequence_length, head_dim]; outputs
/// <c>logits</c> [batch_size, sequence_length, vocab] and <c>present.N.key</c> / <c>.value</c> [batch_size, kv_heads,
/// total_sequence_length, head_dim] (the past with this call's keys and values appended). One graph serves the prompt
/// (past_sequence_length 0) and every decoding step. The symbolic dimension names matter: transformers.js sizes the
/// empty first cache from the input metadata, resolving <c>batch_size</c> and taking every other symbol as 0.</summary>
public static class DecoderCacheNames
{
    /// <summary>Token ids.</summary>
    public const string InputIds = "input_ids";

    /// <summary>1 for a real token, 0 for padding, over the past and the new tokens.</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>The position of each new token (rotary angles, learned position embeddings).</summary>
    public const string PositionIds = "position_ids";

    /// <summary>The output scores.</summary>
    public const string Logits = "logits";

    /// <summary>The prefix of the cache inputs.</summary>
    public const string PastPrefix = "past_key_values.";

    /// <summary>The prefix of the cache outputs.</summary>
    public const string PresentPrefix = "present.";

    /// <summary>The symbolic batch dimension (the name transformers.js resolves).</summary>
    public const string Batch = "batch_size";

    /// <summary>The symbolic number of new tokens.</summary>
    public const string Sequence = "sequence_length";

    /// <summary>The symbolic number of cached tokens.</summary>
    public const string PastSequence = "past_sequence_length";

    /// <summary>The symbolic number of cached plus new tokens.</summary>
    public const string TotalSequence = "total_sequence_length";

    /// <summary><c>past_key_values.N.key</c>.</summary>
    public static string PastKey(int layer) => PastPrefix + layer.ToString(CultureInfo.InvariantCulture) + ".key";

    /// <summary><c>past_key_values.N.value</c>.</summary>
    public static string PastValue(int layer) => PastPrefix + layer.ToString(CultureInfo.InvariantCulture) + ".value";

    /// <summary><c>present.N.key</c>.</summary>
    public static string PresentKey(int layer) => PresentPrefix + layer.ToString(CultureInfo.InvariantCulture) + ".key";

    /// <summary><c>present.N.value</c>.</summary>
    public static string PresentValue(int layer) => PresentPrefix + layer.ToString(CultureInfo.InvariantCulture) + ".value";

    /// <summary>The cache input a cache output feeds at the next step (<c>present.N.key</c> → <c>past_key_values.N.key</c>).</summary>
    public static string PastOf(string present) =>
        present.StartsWith(PresentPrefix, StringComparison.Ordinal) ? PastPrefix + present[PresentPrefix.Length..]
            : throw new ArgumentException($"'{present}' is not a cache output", nameof(present));

    /// <summary>The graph inputs of a decoder with <paramref name="layers"/> layers of <paramref name="kvHeads"/>
    /// key/value heads of width <paramref name="headDim"/> (example sizes: batch 2, 16 new tokens, empty past).</summary>
    public static IReadOnlyList<OnnxValueSpec> Inputs(int layers, int kvHeads, int headDim, long vocab, long maxPositions)
    {
        var batch = OnnxDim.Named(Batch, 2);
        var sequence = OnnxDim.Named(Sequence, Math.Min(16, maxPositions));
        var list = new List<OnnxValueSpec>
        {
            new(InputIds, Sdk.Layers.OnnxDataType.Int64, [batch, sequence], ValueLimit: vocab),
            new(AttentionMask, Sdk.Layers.OnnxDataType.Int64, [batch, OnnxDim.Named(TotalSequence, sequence.Size)]),
            new(PositionIds, Sdk.Layers.OnnxDataType.Int64, [batch, sequence], ValueLimit: maxPositions),
        };
        var past = new[] { batch, OnnxDim.Fixed(kvHeads), OnnxDim.Named(PastSequence, 0), OnnxDim.Fixed(headDim) };
        for (int i = 0; i < layers; i++)
        {
            list.Add(new OnnxValueSpec(PastKey(i), Sdk.Layers.OnnxDataType.Float, past));
            list.Add(new OnnxValueSpec(PastValue(i), Sdk.Layers.OnnxDataType.Float, past));
        }
        return list;
    }

    /// <summary>The graph outputs matching <see cref="Inputs"/>.</summary>
    public static IReadOnlyList<OnnxValueSpec> Outputs(int layers, int kvHeads, int headDim, long vocab, long maxPositions)
    {
        var batch = OnnxDim.Named(Batch, 2);
        var sequence = OnnxDim.Named(Sequence, Math.Min(16, maxPositions));
        var list = new List<OnnxValueSpec> { new(Logits, Sdk.Layers.OnnxDataType.Float, [batch, sequence, OnnxDim.Fixed(vocab)]) };
        var present = new[] { batch, OnnxDim.Fixed(kvHeads), OnnxDim.Named(TotalSequence, sequence.Size), OnnxDim.Fixed(headDim) };
        for (int i = 0; i < layers; i++)
        {
            list.Add(new OnnxValueSpec(PresentKey(i), Sdk.Layers.OnnxDataType.Float, present));
            list.Add(new OnnxValueSpec(PresentValue(i), Sdk.Layers.OnnxDataType.Float, present));
        }
        return list;
    }
}
