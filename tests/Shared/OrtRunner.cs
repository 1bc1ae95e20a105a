using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Compressor.Tests.Shared;

/// <summary>Runs an ONNX file in ONNX Runtime (CPU, 2 threads) on named TorchSharp tensors; returns every float output.
/// A decoder graph with a key/value cache gets the inputs not given as a runtime feeds a whole sequence: a mask of
/// ones, positions 0 … T−1 and empty caches.</summary>
internal static class OrtRunner
{
    public static Dictionary<string, Tensor> Run(string path, IReadOnlyDictionary<string, Tensor> inputs, GraphOptimizationLevel level)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 2, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(path, options);
        var values = new List<OrtValue>();
        try
        {
            var names = new List<string>();
            foreach (var (name, t) in inputs)
            {
                using var c = t.cpu().contiguous();
                names.Add(name);
                values.Add(c.dtype switch
                {
                    ScalarType.Int64 => OrtValue.CreateTensorValueFromMemory(c.data<long>().ToArray(), c.shape),
                    ScalarType.Float32 => OrtValue.CreateTensorValueFromMemory(c.data<float>().ToArray(), c.shape),
                    _ => throw new NotSupportedException(c.dtype.ToString()),
                });
            }
            if (inputs.TryGetValue("input_ids", out var ids) && session.InputMetadata.Keys.Any(k => k.StartsWith("past_key_values.", StringComparison.Ordinal)))
            {
                long b = ids.shape[0], t = ids.shape[1];
                foreach (var (name, meta) in session.InputMetadata.Where(m => !inputs.ContainsKey(m.Key)))
                {
                    names.Add(name);
                    values.Add(name switch
                    {
                        "attention_mask" => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)(b * t)).ToArray(), [b, t]),
                        "position_ids" => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)(b * t)).Select(i => (long)(i % t)).ToArray(), [b, t]),
                        _ => OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float,
                            [b, meta.Dimensions[1], 0, meta.Dimensions[3]]),
                    });
                }
            }
            var outputNames = session.OutputMetadata.Keys.ToList();
            using var run = new RunOptions();
            using var outputs = session.Run(run, names, values, outputNames);
            var result = new Dictionary<string, Tensor>();
            for (int i = 0; i < outputNames.Count; i++)
                result[outputNames[i]] = tensor(outputs[i].GetTensorDataAsSpan<float>().ToArray(), outputs[i].GetTensorTypeAndShape().Shape);
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
