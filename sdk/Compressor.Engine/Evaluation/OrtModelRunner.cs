using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using static TorchSharp.torch;

namespace Compressor.Engine.Evaluation;

/// <summary>An ONNX Runtime session of one model file that takes a TorchSharp batch (reshaped to the model's declared
/// input rank when the sample sizes agree) and returns its first output as float32 values. BERT-style encoders with
/// the inputs <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> (int64) take the batch as the token
/// ids, with the mask derived as ids ≠ 0 ([PAD] is 0) and token types 0, as the sentence data define them. A decoder
/// with a key/value cache (<see cref="Generation.DecoderGraph"/>) takes the batch as token ids with an empty cache, a
/// mask of ones and positions 0 … T−1, and returns its <c>logits</c>.</summary>
internal sealed class OrtModelRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly NodeMetadata _inputMeta;
    private readonly string _output;
    private readonly string? _mask, _tokenTypes;
    private readonly Generation.DecoderGraph? _decoder;

    /// <summary>The names of a BERT-style encoder's inputs.</summary>
    private const string InputIds = "input_ids", AttentionMask = "attention_mask", TokenTypeIds = "token_type_ids";

    public OrtModelRunner(string path, OrtEvaluationOptions options)
    {
        // A regular file only: ONNX Runtime opening a FIFO would wait forever.
        IO.InputFiles.RequireRegular(path);
        using var so = new SessionOptions
        {
            GraphOptimizationLevel = options.OptimizationLevel,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try { _session = new InferenceSession(path, so); }
        catch (OnnxRuntimeException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: ONNX Runtime cannot load it: {e.Message.Split('\n')[0].Trim()}");
        }
        var inputs = _session.InputMetadata;
        if (Generation.DecoderGraph.IsDecoder(_session))
        {
            try { _decoder = Generation.DecoderGraph.Of(_session, path); }
            catch
            {
                _session.Dispose();
                throw;
            }
            (_input, _inputMeta, _output) = (InputIds, inputs[InputIds], Onnx.Export.DecoderCacheNames.Logits);
            Path = path;
            return;
        }
        bool encoder = inputs.Count > 1 && inputs.ContainsKey(InputIds)
                       && inputs.Keys.All(k => k is InputIds or AttentionMask or TokenTypeIds)
                       && inputs.Values.All(m => m.ElementDataType == TensorElementType.Int64);
        if ((inputs.Count != 1 && !encoder) || _session.OutputMetadata.Count < 1)
        {
            _session.Dispose();
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: evaluation needs a model with one input (or the int64 inputs input_ids, attention_mask, token_type_ids of an encoder) and at least one output (it has {inputs.Count} inputs: {string.Join(", ", inputs.Keys)})");
        }
        (_input, _inputMeta) = encoder ? (InputIds, inputs[InputIds]) : (inputs.First().Key, inputs.First().Value);
        if (encoder)
        {
            _mask = inputs.ContainsKey(AttentionMask) ? AttentionMask : null;
            _tokenTypes = inputs.ContainsKey(TokenTypeIds) ? TokenTypeIds : null;
        }
        _output = _session.OutputMetadata.First().Key;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Whether the model takes token ids (int64) rather than float values.</summary>
    public bool TakesTokens => _inputMeta.ElementDataType == TensorElementType.Int64;

    /// <summary>Runs <paramref name="batch"/> (a CPU tensor) and returns the first output and its shape.</summary>
    public (float[] Values, long[] Shape) Run(Tensor batch)
    {
        using var feed = ToOrt(batch);
        using var run = new RunOptions();
        IDisposableReadOnlyCollection<OrtValue> outputs;
        try { outputs = _session.Run(run, feed.Names, feed.Values, [_output]); }
        catch (OnnxRuntimeException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: ONNX Runtime cannot run it on this data: {e.Message.Split('\n')[0].Trim()}");
        }
        using var owned = outputs;
        var y = outputs[0];
        if (y.GetTensorTypeAndShape().ElementDataType != TensorElementType.Float)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: its output '{_output}' is not float32");
        return (y.GetTensorDataAsSpan<float>().ToArray(), y.GetTensorTypeAndShape().Shape);
    }

    /// <summary>Converts a batch once, so timed runs measure only ORT.</summary>
    public OrtFeed ToOrt(Tensor batch)
    {
        var shape = InputShape(batch);
        using var x = batch.cpu().contiguous();
        if (!TakesTokens && !x.is_floating_point())
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: input '{_input}' takes float32 values; the data are token ids");
        if (_decoder is not null) return DecoderFeed(x.to_type(ScalarType.Int64).data<long>().ToArray(), shape);
        if (TakesTokens)
        {
            long[] ids = x.to_type(ScalarType.Int64).data<long>().ToArray();
            var names = new List<string> { _input };
            var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(ids, shape) };
            if (_mask is not null)
            {
                names.Add(_mask);
                values.Add(OrtValue.CreateTensorValueFromMemory(ids.Select(t => t != 0 ? 1L : 0L).ToArray(), shape));
            }
            if (_tokenTypes is not null)
            {
                names.Add(_tokenTypes);
                values.Add(OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape));
            }
            return new OrtFeed(names.ToArray(), values.ToArray());
        }
        if (_inputMeta.ElementDataType != TensorElementType.Float)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path}: input '{_input}' is {_inputMeta.ElementDataType}; evaluation feeds float32 or int64");
        return new OrtFeed([_input], [OrtValue.CreateTensorValueFromMemory(x.to_type(ScalarType.Float32).data<float>().ToArray(), shape)]);
    }

    /// <summary>A decoder's inputs for whole sequences: the ids, a mask of ones, positions 0 … T−1, empty caches.</summary>
    private OrtFeed DecoderFeed(long[] ids, long[] shape)
    {
        if (shape.Length != 2) throw new CompressException(ErrorKind.InvalidInput, $"{Path}: a decoder takes token ids [batch, sequence]");
        long b = shape[0], t = shape[1];
        var names = new List<string> { InputIds };
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(ids, shape) };
        if (_decoder!.TakesAttentionMask)
        {
            names.Add(AttentionMask);
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, ids.Length).ToArray(), shape));
        }
        if (_decoder.TakesPositionIds)
        {
            names.Add(Onnx.Export.DecoderCacheNames.PositionIds);
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, ids.Length).Select(i => (long)(i % t)).ToArray(), shape));
        }
        names.AddRange(_decoder.Cache.Select(c => c.Name));
        values.AddRange(_decoder.EmptyCache(b));
        return new OrtFeed(names.ToArray(), values.ToArray());
    }

    /// <summary>Runs an already converted input (for timing).</summary>
    public void RunRaw(OrtFeed feed)
    {
        using var run = new RunOptions();
        using var outputs = _session.Run(run, feed.Names, feed.Values, [_output]);
    }

    private long[] InputShape(Tensor batch)
    {
        var declared = _inputMeta.Dimensions;
        if (declared.Length == batch.dim() && declared.Zip(batch.shape).Skip(1).All(p => p.First <= 0 || p.First == p.Second)) return batch.shape;
        long sample = batch.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        bool known = declared.Skip(1).All(d => d > 0);
        long declaredSample = declared.Skip(1).Aggregate(1L, (a, b) => a * b);
        if (declared.Length >= 1 && known && declaredSample == sample)
            return [batch.shape[0], .. declared.Skip(1).Select(d => (long)d)];
        throw new CompressException(ErrorKind.InvalidInput,
            $"{Path}: input '{_input}' has shape [{string.Join(",", declared)}]; the data's samples have shape [{string.Join(",", batch.shape.Skip(1))}]");
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>The named ORT inputs of one batch (owned: disposing the feed disposes the values).</summary>
internal sealed class OrtFeed(string[] names, OrtValue[] values) : IDisposable
{
    public string[] Names { get; } = names;

    public OrtValue[] Values { get; } = values;

    public void Dispose()
    {
        foreach (var v in Values) v.Dispose();
    }
}
