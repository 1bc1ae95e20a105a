using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Compressor.Tests.Shared;

/// <summary>Runs ONNX Runtime (CPU, basic graph optimisations only: constant folding and redundant-node removal,
/// no fused kernels, so it computes the graph as written) on TorchSharp tensors, as the reference.</summary>
internal static class OrtReference
{
    public static InferenceSession Session(string path) =>
        new(path, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = 2 });

    public static InferenceSession Session(byte[] model) =>
        new(model, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = 2 });

    /// <summary>The outputs, as new float32 CPU tensors.</summary>
    public static Dictionary<string, Tensor> Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var values = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var (name, t) in inputs)
            {
                using var c = t.cpu().contiguous();
                values[name] = c.dtype switch
                {
                    ScalarType.Int64 => OrtValue.CreateTensorValueFromMemory(c.data<long>().ToArray(), c.shape),
                    ScalarType.Float32 => OrtValue.CreateTensorValueFromMemory(c.data<float>().ToArray(), c.shape),
                    _ => throw new NotSupportedException(c.dtype.ToString()),
                };
            }
            using var options = new RunOptions();
            var names = session.OutputMetadata.Keys.ToList();
            using var outputs = session.Run(options, values, names);
            var result = new Dictionary<string, Tensor>();
            for (int i = 0; i < names.Count; i++)
            {
                var shape = outputs[i].GetTensorTypeAndShape().Shape;
                result[names[i]] = tensor(outputs[i].GetTensorDataAsSpan<float>().ToArray(), shape);
            }
            return result;
        }
        finally
        {
            foreach (var v in values.Values) v.Dispose();
        }
    }
}
