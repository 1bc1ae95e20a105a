using Compressor.Engine.Onnx.Export;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Compressor.Engine.Generation;

/// <summary>The inputs and outputs of a loaded decoder graph with a key/value cache (<see cref="DecoderCacheNames"/>):
/// which optional inputs it takes, its cache inputs with their fixed head counts and widths, and the cache output each
/// one is fed from. Graphs written by others with the same layout (Optimum's) are read the same way.</summary>
public sealed class DecoderGraph
{
    private DecoderGraph(bool mask, bool positions, IReadOnlyList<CacheInput> cache)
    {
        TakesAttentionMask = mask;
        TakesPositionIds = positions;
        Cache = cache;
    }

    /// <summary>Whether the graph takes <c>attention_mask</c>.</summary>
    public bool TakesAttentionMask { get; }

    /// <summary>Whether the graph takes <c>position_ids</c>.</summary>
    public bool TakesPositionIds { get; }

    /// <summary>The cache inputs, in the graph's order.</summary>
    public IReadOnlyList<CacheInput> Cache { get; }

    /// <summary>Whether <paramref name="session"/>'s graph is a decoder with a key/value cache (int64
    /// <c>input_ids</c>, a <c>logits</c> output and at least one <c>past_key_values.*</c> input).</summary>
    public static bool IsDecoder(InferenceSession session) =>
        session.InputMetadata.Keys.Any(k => k.StartsWith(DecoderCacheNames.PastPrefix, StringComparison.Ordinal))
        && session.InputMetadata.TryGetValue(DecoderCacheNames.InputIds, out var ids) && ids.ElementDataType == TensorElementType.Int64
        && session.OutputMetadata.ContainsKey(DecoderCacheNames.Logits);

    /// <summary>Reads the layout of <paramref name="session"/>'s graph.</summary>
    /// <exception cref="CompressException">Not a decoder with a key/value cache, an unknown input, a cache input
    /// without its output or with a symbolic head count or width (kind InvalidInput); <paramref name="path"/> names
    /// the file in the message.</exception>
    public static DecoderGraph Of(InferenceSession session, string path)
    {
        var inputs = session.InputMetadata;
        if (!IsDecoder(session))
            throw new CompressException(ErrorKind.InvalidInput,
                $"{path} is not a decoder with a key/value cache (its inputs are {string.Join(", ", inputs.Keys.Take(6))}{(inputs.Count > 6 ? ", …" : "")}; " +
                "a decoder needs input_ids, past_key_values.N.key/value and a logits output)");
        var cache = new List<CacheInput>();
        foreach (var (name, meta) in inputs)
        {
            if (name is DecoderCacheNames.InputIds or DecoderCacheNames.AttentionMask or DecoderCacheNames.PositionIds) continue;
            if (!name.StartsWith(DecoderCacheNames.PastPrefix, StringComparison.Ordinal))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: decoder input '{name}' is not one generation knows how to feed");
            string present = DecoderCacheNames.PresentPrefix + name[DecoderCacheNames.PastPrefix.Length..];
            int[] dims = meta.Dimensions;
            if (!session.OutputMetadata.ContainsKey(present))
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: cache input '{name}' has no output '{present}'");
            if (meta.ElementDataType != TensorElementType.Float || dims.Length != 4 || dims[1] <= 0 || dims[3] <= 0)
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: cache input '{name}' must be float32 [batch, heads, past, head_dim] with fixed heads and head_dim");
            cache.Add(new CacheInput(name, present, dims[1], dims[3]));
        }
        return new DecoderGraph(inputs.ContainsKey(DecoderCacheNames.AttentionMask), inputs.ContainsKey(DecoderCacheNames.PositionIds), cache);
    }

    /// <summary>Empty caches (past length 0) for a batch, one per cache input, in <see cref="Cache"/>'s order.</summary>
    public OrtValue[] EmptyCache(long batch) =>
        Cache.Select(c => OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [batch, c.Heads, 0, c.HeadDim])).ToArray();
}
