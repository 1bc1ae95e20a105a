using Compressor.Engine.Onnx.Export;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Compressor.Engine.Generation;

/// <summary>One sequence (batch 1) decoded by ONNX Runtime on a decoder graph with a key/value cache
/// (<see cref="DecoderGraph"/>): <see cref="Append"/> runs the graph on new tokens with the cache of everything
/// appended before, keeps the <c>present.*</c> outputs as the next call's <c>past_key_values.*</c>, and returns the
/// scores of the next token. The mask is all ones and the positions continue from the cache's length, as a runtime
/// feeds one unpadded sequence.</summary>
public sealed class OrtDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;
    private OrtValue[] _cache;
    private IDisposableReadOnlyCollection<OrtValue>? _owner;

    /// <summary>Opens <paramref name="path"/> with <paramref name="threads"/> intra-op threads at
    /// <paramref name="level"/> (default ORT_ENABLE_ALL, what runtimes use: 4-bit weights run as MatMulNBits).</summary>
    /// <exception cref="CompressException">Not a regular file, not loadable, or not a decoder with a key/value cache
    /// (kind InvalidInput).</exception>
    public OrtDecoder(string path, int threads, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        IO.InputFiles.RequireRegular(path);
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = level, IntraOpNumThreads = threads, InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try { _session = new InferenceSession(path, options); }
        catch (OnnxRuntimeException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: ONNX Runtime cannot load it: {e.Message.Split('\n')[0].Trim()}");
        }
        try
        {
            Graph = DecoderGraph.Of(_session, path);
            int[] logits = _session.OutputMetadata[DecoderCacheNames.Logits].Dimensions;
            Vocabulary = logits.Length == 3 && logits[2] > 0 ? logits[2]
                : throw new CompressException(ErrorKind.InvalidInput, $"{path}: output 'logits' must be [batch, sequence, vocab] with a fixed vocab");
        }
        catch
        {
            _session.Dispose();
            throw;
        }
        Path = path;
        _outputNames = [DecoderCacheNames.Logits, .. Graph.Cache.Select(c => c.Present)];
        _cache = Graph.EmptyCache(1);
    }

    /// <summary>The model file.</summary>
    public string Path { get; }

    /// <summary>The graph's layout.</summary>
    public DecoderGraph Graph { get; }

    /// <summary>The scores per token.</summary>
    public int Vocabulary { get; }

    /// <summary>Tokens in the cache.</summary>
    public long Length { get; private set; }

    /// <summary>Runs the graph on <paramref name="tokens"/> after the cached ones, appends them to the cache, and
    /// returns the scores [vocab] that follow the last of them.</summary>
    /// <exception cref="CompressException">No tokens, or an id outside the vocabulary (InvalidInput); ONNX Runtime
    /// failed (InvalidInput, its first line).</exception>
    public float[] Append(IReadOnlyList<int> tokens)
    {
        if (tokens.Count == 0) throw new CompressException(ErrorKind.InvalidInput, "generation needs at least one token");
        foreach (int t in tokens)
            if ((uint)t >= (uint)Vocabulary) throw new CompressException(ErrorKind.InvalidInput, $"token id {t} is outside the model's vocabulary of {Vocabulary}");
        long s = tokens.Count, total = Length + s;
        var names = new List<string> { DecoderCacheNames.InputIds };
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(tokens.Select(t => (long)t).ToArray(), [1, s]) };
        if (Graph.TakesAttentionMask)
        {
            names.Add(DecoderCacheNames.AttentionMask);
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)total).ToArray(), [1, total]));
        }
        if (Graph.TakesPositionIds)
        {
            names.Add(DecoderCacheNames.PositionIds);
            long start = Length;
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)s).Select(i => start + i).ToArray(), [1, s]));
        }
        int own = values.Count;
        names.AddRange(Graph.Cache.Select(c => c.Name));
        values.AddRange(_cache);
        IDisposableReadOnlyCollection<OrtValue> outputs;
        try
        {
            using var run = new RunOptions();
            outputs = _session.Run(run, names, values, _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: ONNX Runtime failed at {total} tokens: {e.Message.Split('\n')[0].Trim()}");
        }
        finally
        {
            for (int i = 0; i < own; i++) values[i].Dispose();
        }
        ReleaseCache();
        _owner = outputs;
        _cache = outputs.Skip(1).ToArray();
        Length = total;
        var logits = outputs[0];
        if (logits.GetTensorTypeAndShape().ElementDataType != TensorElementType.Float)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: output 'logits' is not float32");
        var all = logits.GetTensorDataAsSpan<float>();
        return all[^Vocabulary..].ToArray();
    }

    /// <summary>Empties the cache (a new sequence starts).</summary>
    public void Reset()
    {
        ReleaseCache();
        _cache = Graph.EmptyCache(1);
        Length = 0;
    }

    private void ReleaseCache()
    {
        if (_owner is not null) _owner.Dispose();
        else foreach (var v in _cache) v.Dispose();
        _owner = null;
        _cache = [];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleaseCache();
        _session.Dispose();
    }
}
