using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace StatsQ.Tests;

/// <summary>Runs an ONNX file in ONNX Runtime (CPU) on one float input; returns the first output.</summary>
internal static class OrtRunner
{
    public static Tensor Run(string path, string inputName, Tensor input, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_BASIC)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(path, options);
        using var c = input.cpu().contiguous();
        using var value = OrtValue.CreateTensorValueFromMemory(c.data<float>().ToArray(), c.shape);
        using var run = new RunOptions();
        var outputName = session.OutputMetadata.Keys.First();
        using var outputs = session.Run(run, [inputName], [value], [outputName]);
        return tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape);
    }
}
