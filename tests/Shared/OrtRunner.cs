using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Compressor.Tests.Shared;

/// <summary>Runs an ONNX file in ONNX Runtime (CPU, 2 threads) on named TorchSharp tensors; returns every float output.</summary>
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
