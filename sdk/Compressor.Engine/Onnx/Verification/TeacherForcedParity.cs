using Compressor.Engine.Onnx.Export;
using Compressor.Sdk.Layers;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Verification;

/// <summary>Teacher-forced parity of an exported model: every compressed layer's output, and every graph output, is
/// computed in ORT from TorchSharp's own values at the cut — the outputs of all other compressed layers (captured in
/// the TorchSharp forward) and the graph inputs — through the segment of the graph between them. Every node of the graph
/// lies in some segment, so a wrong lowering (of a compressed layer or of the float glue between them: norms,
/// residual adds, activations) shows in its segment; but a code flip in one layer's activation quantizer (an input
/// within float rounding of a rounding boundary, which the two runtimes' different summation orders decide
/// differently) stays in that segment instead of compounding through every later block.
/// <para>Why it exists: in a model with low-bit activation quantizers a single flip moves a value by a whole step,
/// which perturbs the next layers' inputs enough to flip more codes there; over 12 blocks the free-running parity of
/// an exactly lowered W4A4 DeiT-S drops to 13–20 dB although each QuantizeLinear rounds exactly as TorchSharp does on
/// the same input (bench/README.md).</para></summary>
internal static class TeacherForcedParity
{
    /// <summary>Whether <paramref name="graph"/> quantizes activations (a QuantizeLinear of a computed value, not of an
    /// initializer): the models whose free-running parity is chaotic.</summary>
    public static bool QuantizesActivations(GraphProto graph)
    {
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        return graph.Node.Any(n => n.OpType == "QuantizeLinear" && !initializers.Contains(n.Input[0]));
    }

    /// <summary>The teacher-forced parity of each captured layer (named as the layer) and of each graph output (named
    /// <c>output 'NAME'</c>), in graph order, at ORT optimisation <paramref name="level"/>. <paramref name="layerExpected"/> holds TorchSharp's layer outputs,
    /// <paramref name="finalExpected"/> its graph outputs, <paramref name="feeds"/> the graph inputs as ORT values.</summary>
    public static List<LayerParity> Measure(OnnxExportResult export, ModelProto written, IReadOnlyDictionary<string, OrtValue> feeds,
        IReadOnlyDictionary<string, (float[] Values, long[] Shape)> layerExpected, IReadOnlyDictionary<string, (float[] Values, long[] Shape)> finalExpected,
        GraphOptimizationLevel level, Func<float[], long[], float[], long[], string, (double MaxAbs, double SqnrDb)> compare)
    {
        var outputOf = export.CompressedLayers.Where(l => layerExpected.ContainsKey(l.Name)).ToDictionary(l => l.Output, l => l.Name, StringComparer.Ordinal);
        var producers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < written.Graph.Node.Count; i++)
            foreach (var o in written.Graph.Node[i].Output) producers[o] = i;
        var initializers = written.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graphInputs = written.Graph.Input.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var targets = outputOf.Select(kv => (Value: kv.Key, Name: kv.Value, Expected: layerExpected[kv.Value]))
            .Concat(finalExpected.Select(kv => (Value: kv.Key, Name: $"output '{kv.Key}'", Expected: kv.Value)))
            .OrderBy(t => producers.GetValueOrDefault(t.Value, -1)).ToList();
        var result = new List<LayerParity>();
        foreach (var (value, name, expected) in targets)
        {
            var segment = Segment(written, value, v => v != value && outputOf.ContainsKey(v), producers, initializers, graphInputs, out var cut);
            using var options = new SessionOptions { GraphOptimizationLevel = level, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = Runtime.ComputeThreads.Count, InterOpNumThreads = 1 };
            using var session = new InferenceSession(segment.ToByteArray(), options);
            var owned = new List<OrtValue>();
            try
            {
                var inputs = new List<OrtValue>();
                foreach (var v in cut)
                {
                    if (feeds.TryGetValue(v, out var graphInput)) { inputs.Add(graphInput); continue; }
                    var (values, shape) = layerExpected[outputOf[v]];
                    var ort = OrtValue.CreateTensorValueFromMemory(values, shape);
                    owned.Add(ort);
                    inputs.Add(ort);
                }
                using var run = new RunOptions();
                using var outputs = session.Run(run, cut, inputs, [value]);
                var (maxAbs, sqnr) = compare(expected.Values, expected.Shape, outputs[0].GetTensorDataAsSpan<float>().ToArray(),
                    outputs[0].GetTensorTypeAndShape().Shape, $"teacher-forced {name}");
                result.Add(new LayerParity(name, maxAbs, sqnr));
            }
            finally
            {
                foreach (var o in owned) o.Dispose();
            }
        }
        return result;
    }

    /// <summary>The sub-graph computing <paramref name="output"/> from the values where <paramref name="isCut"/> holds
    /// and the graph inputs it reaches (<paramref name="cut"/>, its inputs, float32 for cut values), with the
    /// initializers its nodes read.</summary>
    internal static ModelProto Segment(ModelProto model, string output, Func<string, bool> isCut, IReadOnlyDictionary<string, int> producers,
        IReadOnlyDictionary<string, TensorProto> initializers, IReadOnlyDictionary<string, ValueInfoProto> graphInputs, out List<string> cut)
    {
        var nodes = new SortedSet<int>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var used = new SortedSet<string>(StringComparer.Ordinal);
        cut = [];
        var stack = new Stack<string>([output]);
        while (stack.Count > 0)
        {
            string v = stack.Pop();
            if (v.Length == 0 || !seen.Add(v)) continue;
            if (isCut(v) || graphInputs.ContainsKey(v)) { cut.Add(v); continue; }
            if (initializers.ContainsKey(v)) { used.Add(v); continue; }
            if (!producers.TryGetValue(v, out int i))
                throw new InvalidOperationException($"value '{v}' has no producer in the exported graph");
            if (!nodes.Add(i)) continue;
            foreach (var input in model.Graph.Node[i].Input) stack.Push(input);
        }
        var graph = new GraphProto { Name = model.Graph.Name + "_segment" };
        graph.Node.AddRange(nodes.Select(i => model.Graph.Node[i]));
        graph.Initializer.AddRange(used.Select(n => initializers[n]));
        foreach (var v in cut)
            graph.Input.Add(graphInputs.TryGetValue(v, out var info) ? info
                : new ValueInfoProto { Name = v, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } } });
        graph.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } } });
        var segment = new ModelProto { IrVersion = model.IrVersion, ProducerName = model.ProducerName, Graph = graph };
        segment.OpsetImport.AddRange(model.OpsetImport);
        return segment;
    }
}
