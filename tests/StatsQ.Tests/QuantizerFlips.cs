using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace StatsQ.Tests;

/// <summary>Diagnostics of an exported model's activation quantizers: for every QuantizeLinear, the integer codes ORT
/// produced next to the codes TorchSharp's rounding gives on the very same input tensor (ORT's own input to that node),
/// so a difference in the rounding itself (division vs reciprocal, tie rule, clamp, scale) shows as flips even where
/// the two runtimes' float inputs differ.</summary>
internal static class QuantizerFlips
{
    /// <summary>One QuantizeLinear: elements, codes that differ from <c>round_half_even(x / s)</c> (TorchSharp's
    /// <c>div</c> then <c>round</c>), and the elements whose x/s lies within 1e−4 of a .5 tie.</summary>
    public sealed record Row(string Node, long Count, long Flips, long NearTies);

    /// <summary>Runs <paramref name="path"/> at ORT_ENABLE_BASIC on <paramref name="input"/> with every QuantizeLinear's
    /// input, scale and output added as graph outputs, and compares each node's codes with TorchSharp's rounding.</summary>
    public static List<Row> Measure(string path, string inputName, Tensor input)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var nodes = model.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ToList();
        var outputs = new List<string>();
        void Output(string name, int type)
        {
            if (outputs.Contains(name) || initializers.ContainsKey(name)) return;
            outputs.Add(name);
            model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type } } });
        }
        foreach (var n in nodes)
        {
            Output(n.Input[0], (int)TensorProto.Types.DataType.Float);
            Output(n.Input[1], (int)TensorProto.Types.DataType.Float);
            Output(n.Output[0], (int)OutputType(n));
        }
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToByteArray(), options);
        using var c = input.cpu().contiguous();
        using var value = OrtValue.CreateTensorValueFromMemory(c.data<float>().ToArray(), c.shape);
        using var run = new RunOptions();
        using var results = session.Run(run, [inputName], [value], outputs);
        Tensor Get(string name, TensorProto.Types.DataType type)
        {
            if (initializers.TryGetValue(name, out var init))
                return tensor(init.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray() : init.FloatData.ToArray(), init.Dims.ToArray());
            var v = results[outputs.IndexOf(name)];
            var shape = v.GetTensorTypeAndShape().Shape;
            return type switch
            {
                TensorProto.Types.DataType.Int8 => tensor(v.GetTensorDataAsSpan<sbyte>().ToArray().Select(b => (float)b).ToArray(), shape),
                TensorProto.Types.DataType.Uint8 => tensor(v.GetTensorDataAsSpan<byte>().ToArray().Select(b => (float)b).ToArray(), shape),
                _ => tensor(v.GetTensorDataAsSpan<float>().ToArray(), shape),
            };
        }
        var rows = new List<Row>();
        foreach (var n in nodes)
        {
            using var scope = NewDisposeScope();
            var type = OutputType(n);
            var x = Get(n.Input[0], TensorProto.Types.DataType.Float);
            var s = Get(n.Input[1], TensorProto.Types.DataType.Float);
            var codes = Get(n.Output[0], type);
            if (s.numel() > 1)
            {
                long axis = n.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1;
                if (axis < 0) axis += x.dim();
                var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
                shape[axis] = -1;
                s = s.reshape(shape);
            }
            (double lo, double hi) = type == TensorProto.Types.DataType.Int8 ? (-128, 127) : (0, 255);
            var ratio = x.div(s);
            var torchCodes = ratio.round().clamp(lo, hi);
            long flips = torchCodes.ne(codes).sum().item<long>();
            long ties = ratio.sub(ratio.floor()).sub(0.5).abs().lt(1e-4).sum().item<long>();
            rows.Add(new Row(n.Output[0], x.numel(), flips, ties));
        }
        return rows;
    }

    private static TensorProto.Types.DataType OutputType(NodeProto n) =>
        (TensorProto.Types.DataType)(n.Attribute.FirstOrDefault(a => a.Name == "output_dtype")?.I ?? (long)TensorProto.Types.DataType.Uint8);
}
