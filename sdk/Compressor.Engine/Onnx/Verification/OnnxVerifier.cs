using Compressor.Sdk.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Sdk.Reports;
using Microsoft.ML.OnnxRuntime;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;
using Compressor.Sdk.Layers;

namespace Compressor.Engine.Onnx.Verification;

/// <summary>The verification gate of an exported model: ONNX Runtime creates a session; its output on seeded sample
/// inputs matches the TorchSharp model (max abs error, SQNR dB); each compressed layer's tensors in the file take at
/// most <see cref="VerificationOptions.MaximumSizeRatio"/> × theory; every op/type/opset is one ORT 1.31 CPU runs;
/// and, at ORT_ENABLE_ALL, which kernels ORT fused (read back from the optimised graph it saves).
/// <para>The inputs are seeded samples of the graph inputs, or, for a root that computes its graph's outputs itself
/// (<see cref="IOnnxGraphReference"/>: a decoder's key/value-cache graph), the cases it names (prompt with an empty
/// cache, a decoding step, a continuation), each compared; the first case is the main one (per-layer parity).</para>
/// <para>Parity is gated at <see cref="ParityLevel"/> against <see cref="VerificationOptions.MinimumSqnrDb"/> and, more
/// loosely, at ORT_ENABLE_ALL against <see cref="VerificationOptions.MinimumOptimizedSqnrDb"/>.</para>
/// <para>Parity runs at <see cref="ParityLevel"/> = ORT_ENABLE_BASIC: that level only applies rewrites that keep
/// results exact (constant folding, redundant-node removal), so any error is the export's. ORT_ENABLE_EXTENDED/ALL
/// replace DQ → MatMul with MatMulNBits (lower accumulation accuracy, ~1e-3 relative) and int8 weights with an
/// integer matmul that quantizes activations (~5e-3 absolute): their error is reported, not gated.</para></summary>
public static class OnnxVerifier
{
    /// <summary>The optimisation level of the gated parity check.</summary>
    public const GraphOptimizationLevel ParityLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC;

    /// <summary>The ONNX Runtime version in this process.</summary>
    public static string OrtVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>Checks <paramref name="export"/> (written from <paramref name="model"/>) and returns what it found;
    /// call <see cref="VerificationResult.EnsurePassed"/> to turn failures into an error.</summary>
    public static VerificationResult Verify(CompressibleModel model, OnnxExportResult export, VerificationOptions? options = null)
    {
        options ??= new VerificationOptions();
        var (written, problems, sizes, failures) = Inspect(export, options);

        using var scope = NewDisposeScope();
        IReadOnlyList<OnnxVerificationCase> cases = model.Module is IOnnxGraphReference reference
            ? reference.VerificationCases(options.Seed)
            : [new OnnxVerificationCase("sample", SampleInputs(export.Inputs, options.Seed))];
        var x = cases[0].Inputs;
        var expected = new Dictionary<string, (float[] Values, long[] Shape)>[cases.Count];
        var layerExpected = new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal);
        var capturing = new List<(string Name, CapturingLayer Layer)>();
        using (no_grad())
        {
            bool training = model.Module.training;
            model.Module.eval();
            try
            {
                foreach (var layer in export.CompressedLayers)
                    if (model.GetLayer(layer.Name) is nn.Module<Tensor, Tensor> m)
                    {
                        var wrapper = new CapturingLayer(m);
                        try { model.ReplaceLayer(layer.Name, wrapper, disposeOld: false); }
                        catch (InvalidOperationException)
                        {
                            wrapper.Dispose();   // its parent is not a LayerContainer: no per-layer parity for it
                            continue;
                        }
                        capturing.Add((layer.Name, wrapper));
                    }
                // The main case last, so that the captured layer outputs are its own.
                for (int i = cases.Count - 1; i >= 0; i--) expected[i] = TorchOutputs(model, export, cases[i].Inputs);
            }
            finally
            {
                foreach (var (name, wrapper) in capturing)
                {
                    model.ReplaceLayer(name, wrapper.Inner, disposeOld: false);
                    if (wrapper.Captured is { } c) layerExpected[name] = c;
                    wrapper.Dispose();
                }
                if (training) model.Module.train();
            }
        }
        var parityValues = export.ExternalDataPath is null && layerExpected.Count > 0
            ? export.CompressedLayers.Where(l => layerExpected.ContainsKey(l.Name)).Select(l => (l.Name, l.Output)).ToList() : [];
        return Check(export, options, written, problems, sizes, failures, cases, expected, parityValues, layerExpected);
    }

    /// <summary>Checks <paramref name="export"/> of a model that was never held whole (a streamed run): the same gate as
    /// <see cref="Verify"/> (compatibility, sizes, every case at ORT_ENABLE_BASIC and ORT_ENABLE_ALL, fused kernels)
    /// against TorchSharp outputs computed elsewhere, block by block; and the value each block outputs on the first case
    /// (<paramref name="blockValues"/>: block name → graph value), compared in dB with <paramref name="blockExpected"/>
    /// and reported as the per-layer parity rows (one per block).</summary>
    public static VerificationResult VerifyStreamed(OnnxExportResult export, IReadOnlyList<OnnxVerificationCase> cases,
        IReadOnlyList<Dictionary<string, (float[] Values, long[] Shape)>> expected, IReadOnlyList<(string Name, string Value)> blockValues,
        Dictionary<string, (float[] Values, long[] Shape)> blockExpected, VerificationOptions? options = null)
    {
        options ??= new VerificationOptions();
        var (written, problems, sizes, failures) = Inspect(export, options);
        return Check(export, options, written, problems, sizes, failures, cases, expected.ToArray(), blockValues, blockExpected);
    }

    private static (ModelProto Written, IReadOnlyList<string> Problems, List<LayerSizeCheck> Sizes, List<string> Failures) Inspect(OnnxExportResult export, VerificationOptions options)
    {
        var failures = new List<string>();
        var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        var problems = OrtCompatibility.Check(written);
        failures.AddRange(problems.Select(p => "incompatible: " + p));

        var bytes = export.InitializerBytes.GroupBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
        var sizes = export.CompressedLayers.Select(l => new LayerSizeCheck(l.Name, l.Kind, l.Initializers.Sum(n => bytes[n]), l.TheoreticalBytes)).ToList();
        foreach (var s in sizes.Where(s => s.Ratio > options.MaximumSizeRatio))
            failures.Add($"'{s.Layer}' takes {s.Bytes} bytes in the file, {s.Ratio:F3}× its theoretical {s.TheoreticalBytes} (limit {options.MaximumSizeRatio:F2}×)");
        return (written, problems, sizes, failures);
    }

    private static VerificationResult Check(OnnxExportResult export, VerificationOptions options, ModelProto written, IReadOnlyList<string> problems, List<LayerSizeCheck> sizes,
        List<string> failures, IReadOnlyList<OnnxVerificationCase> cases, Dictionary<string, (float[] Values, long[] Shape)>[] expected,
        IReadOnlyList<(string Name, string Value)> parityValues, Dictionary<string, (float[] Values, long[] Shape)> parityExpected)
    {
        var x = cases[0].Inputs;
        var layerParity = new List<LayerParity>();
        bool loads;
        double maxAbs = double.NaN, sqnr = double.NaN, optMaxAbs = double.NaN, optSqnr = double.NaN;
        var fused = new List<KeyValuePair<string, int>>();
        IReadOnlyList<LayerKernel> kernels = [];
        // A speed export quantizes activations in integer operators: their codes follow the model's fake quantization,
        // but float rounding differences of the inputs flip single codes and the flips compound layer after layer, so
        // its floor is the integer one (see VerificationOptions.MinimumIntegerSqnrDb).
        double basicFloor = export.Target == ExportTarget.Speed ? Math.Min(options.MinimumSqnrDb, options.MinimumIntegerSqnrDb) : options.MinimumSqnrDb;
        // A size export that quantizes activations is gated teacher-forced, layer by layer (TeacherForcedParity): its
        // free-running parity measures how far code flips compound, not whether the lowering is right, and is reported.
        bool teacherForced = export.Target != ExportTarget.Speed && export.ExternalDataPath is null && parityExpected.Count > 0
                             && cases.Count == 1 && TeacherForcedParity.QuantizesActivations(written.Graph);
        var teacherForcedParity = new List<LayerParity>();
        var optimizedTeacherForcedParity = new List<LayerParity>();
        try
        {
            // One session at the parity level computes every case's graph outputs and, on the main case, every
            // compressed layer's (or streamed block's) value, so that the file is loaded once at this level.
            var (actual, layerValues) = Run(export, cases, ParityLevel, null, parityValues.Count > 0 ? written : null, parityValues.Select(l => l.Item2).ToList());
            loads = true;
            (maxAbs, sqnr) = CompareCases(cases, expected, actual, failures, "ORT_ENABLE_BASIC");
            if (double.IsNaN(sqnr) || !teacherForced && double.IsFinite(sqnr) && sqnr < basicFloor)
                failures.Add($"ORT output differs from TorchSharp: SQNR {sqnr:F1} dB < {basicFloor} dB (max abs error {maxAbs:G3})");
            if (parityValues.Count > 0)
                layerParity.AddRange(LayerOutputs(parityValues, layerValues, parityExpected, failures,
                    teacherForced ? double.NegativeInfinity
                    : export.Target == ExportTarget.Speed ? Math.Min(options.MinimumSqnrDb, options.MinimumIntegerLayerSqnrDb) : basicFloor));
            if (teacherForced)
            {
                teacherForcedParity.AddRange(TeacherForced(export, written, x, parityExpected, expected[0], ParityLevel, failures, options.MinimumTeacherForcedSqnrDb, "ORT_ENABLE_BASIC"));
                if (options.DetectFusedKernels)
                    optimizedTeacherForcedParity.AddRange(TeacherForced(export, written, x, parityExpected, expected[0], GraphOptimizationLevel.ORT_ENABLE_ALL,
                        failures, options.MinimumOptimizedSqnrDb, "ORT_ENABLE_ALL"));
            }
        }
        catch (OnnxRuntimeException e)
        {
            loads = false;
            failures.Add($"ONNX Runtime cannot run the model: {e.Message.Split('\n')[0].Trim()}");
        }

        if (loads && options.DetectFusedKernels)
        {
            string dir = Directory.CreateTempSubdirectory("compress-ort-").FullName;
            try
            {
                string optimized = Path.Combine(dir, "optimized.onnx");
                var (actual, _) = Run(export, cases, GraphOptimizationLevel.ORT_ENABLE_ALL, optimized, null, []);
                (optMaxAbs, optSqnr) = CompareCases(cases, expected, actual, failures, "ORT_ENABLE_ALL");
                double floor = export.Target == ExportTarget.Speed ? options.MinimumIntegerSqnrDb : options.MinimumOptimizedSqnrDb;
                if (double.IsNaN(optSqnr) || !teacherForced && double.IsFinite(optSqnr) && optSqnr < floor)
                    failures.Add($"at ORT_ENABLE_ALL the output differs from TorchSharp: SQNR {optSqnr:F1} dB < {floor} dB (max abs error {optMaxAbs:G3})");
                if (File.Exists(optimized))
                {
                    var optimizedModel = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized));
                    fused.AddRange(FusedKernels(written, optimizedModel));
                    kernels = LayerKernels.Attribute(optimizedModel, export.CompressedLayers.Select(l => (l.Name, l.Kind)).ToList());
                }
            }
            catch (OnnxRuntimeException e)
            {
                failures.Add($"ONNX Runtime cannot run the model at ORT_ENABLE_ALL: {e.Message.Split('\n')[0].Trim()}");
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        }
        return new VerificationResult(OrtVersion, export.Opset, ParityLevel.ToString(), loads, maxAbs, sqnr, optMaxAbs, optSqnr,
            problems.Count == 0, fused.Select(kv => kv.Key).ToList(), fused.ToDictionary(kv => kv.Key, kv => kv.Value), sizes, layerParity, failures)
        {
            LayerKernels = kernels,
            Target = export.Target,
            TeacherForcedOutputs = teacherForcedParity,
            OptimizedTeacherForcedOutputs = optimizedTeacherForcedParity,
        };
    }

    /// <summary>The teacher-forced parity at <paramref name="level"/> (see <see cref="TeacherForcedParity"/>), each
    /// layer and graph output gated at <paramref name="floor"/> dB.</summary>
    private static List<LayerParity> TeacherForced(OnnxExportResult export, ModelProto written, IReadOnlyDictionary<string, Tensor> x,
        Dictionary<string, (float[] Values, long[] Shape)> layerExpected, Dictionary<string, (float[] Values, long[] Shape)> finalExpected,
        GraphOptimizationLevel level, List<string> failures, double floor, string levelName)
    {
        var values = OrtInputs(export, x);
        try
        {
            var feeds = export.Inputs.Select((spec, i) => (spec.Name, Value: values[i])).ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
            var parity = TeacherForcedParity.Measure(export, written, feeds, layerExpected, finalExpected, level,
                (e, eShape, a, aShape, what) => Compare(e, eShape, a, aShape, failures, $"{levelName} {what}"));
            foreach (var p in parity.Where(p => double.IsFinite(p.SqnrDb) && p.SqnrDb < floor))
                failures.Add($"{levelName}, teacher-forced {p.Layer}: ORT differs from TorchSharp: SQNR {p.SqnrDb:F1} dB < {floor} dB (max abs error {p.MaxAbsError:G3})");
            return parity;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>Compares every compressed layer's value in ONNX Runtime (<paramref name="actual"/>, by graph value) with
    /// the TorchSharp output captured for that layer.</summary>
    private static List<LayerParity> LayerOutputs(IReadOnlyList<(string Name, string Output)> layers, Dictionary<string, (float[] Values, long[] Shape)> actual,
        Dictionary<string, (float[] Values, long[] Shape)> expected, List<string> failures, double minimumSqnrDb)
    {
        var result = new List<LayerParity>();
        foreach (var (name, output) in layers)
        {
            var (values, shape) = expected[name];
            var (a, aShape) = actual[output];
            var (maxAbs, sqnr) = Compare(values, shape, a, aShape, failures, $"layer '{name}'");
            if (double.IsFinite(sqnr) && sqnr < minimumSqnrDb)
                failures.Add($"layer '{name}': ORT output differs from TorchSharp: SQNR {sqnr:F1} dB < {minimumSqnrDb} dB (max abs error {maxAbs:G3})");
            result.Add(new LayerParity(name, maxAbs, sqnr));
        }
        return result;
    }

    /// <summary>The operators of <paramref name="optimized"/> that <paramref name="original"/> does not use
    /// ("domain.OpType", "" domain left out), with how many nodes of each, sorted by name.</summary>
    public static IReadOnlyList<KeyValuePair<string, int>> FusedKernels(ModelProto original, ModelProto optimized)
    {
        static string Key(NodeProto n) => (n.Domain is "" or "ai.onnx" ? "" : n.Domain + ".") + n.OpType;
        var before = original.Graph.Node.Select(Key).ToHashSet(StringComparer.Ordinal);
        return optimized.Graph.Node.Select(Key).Where(k => !before.Contains(k))
            .GroupBy(k => k, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new KeyValuePair<string, int>(g.Key, g.Count())).ToList();
    }

    /// <summary>A seeded sample input for <paramref name="spec"/>: N(0, 1) floats; integers in [0, ValueLimit), or
    /// ones (an attention mask) when <see cref="OnnxValueSpec.ValueLimit"/> is 0.</summary>
    public static Tensor SampleInput(OnnxValueSpec spec, int seed)
    {
        var g = new Generator((ulong)seed);
        return spec.ElementType switch
        {
            OnnxDataType.Float => randn(spec.ExampleShape, generator: g),
            OnnxDataType.Int64 when spec.ValueLimit <= 0 => ones(spec.ExampleShape, ScalarType.Int64),
            OnnxDataType.Int64 => randint(0, spec.ValueLimit, spec.ExampleShape, generator: g, dtype: ScalarType.Int64),
            _ => throw new CompressException(ErrorKind.VerificationFailed, $"verification cannot feed inputs of {OnnxDataType.Name(spec.ElementType)}"),
        };
    }

    /// <summary>Seeded sample inputs for every graph input, by name (input <c>i</c> uses seed + i).</summary>
    public static Dictionary<string, Tensor> SampleInputs(IReadOnlyList<OnnxValueSpec> specs, int seed)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < specs.Count; i++) inputs[specs[i].Name] = SampleInput(specs[i], seed + i);
        return inputs;
    }

    /// <summary>TorchSharp's outputs on <paramref name="x"/>, named as the graph outputs: a model whose named inputs and
    /// outputs are the graph's (an imported graph) runs with named inputs; another runs <c>Forward</c> on the one graph
    /// input (its output is the first graph output).</summary>
    private static Dictionary<string, (float[] Values, long[] Shape)> TorchOutputs(CompressibleModel model, OnnxExportResult export, IReadOnlyDictionary<string, Tensor> x)
    {
        var device = model.Module.parameters().Concat(model.Module.buffers()).FirstOrDefault()?.device ?? CPU;
        var result = new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal);
        static (float[], long[]) Host(Tensor t)
        {
            using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
            return (c.data<float>().ToArray(), c.shape);
        }
        if (model.Module is IOnnxGraphReference reference)
        {
            var graphOutputs = reference.RunGraph(x.ToDictionary(kv => kv.Key, kv => kv.Value.to(device), StringComparer.Ordinal));
            try
            {
                foreach (var spec in export.Outputs)
                    result[spec.Name] = graphOutputs.TryGetValue(spec.Name, out var t) ? Host(t)
                        : throw new CompressException(ErrorKind.VerificationFailed, $"the model does not compute graph output '{spec.Name}'");
            }
            finally
            {
                foreach (var t in graphOutputs.Values) t.Dispose();
            }
            return result;
        }
        bool named = model.InputNames.SequenceEqual(export.Inputs.Select(i => i.Name)) && model.OutputNames.SequenceEqual(export.Outputs.Select(o => o.Name));
        if (!named)
        {
            if (export.Inputs.Count != 1)
                throw new CompressException(ErrorKind.VerificationFailed, $"the model runs one tensor; its graph declares {export.Inputs.Count} inputs");
            using var y = model.Forward(x[export.Inputs[0].Name].to(device));
            result[export.Outputs[0].Name] = Host(y);
            return result;
        }
        var feed = x.ToDictionary(kv => kv.Key, kv => kv.Value.to(device), StringComparer.Ordinal);
        var outputs = model.Run(feed);
        try
        {
            foreach (var spec in export.Outputs)
                result[spec.Name] = outputs.TryGetValue(spec.Name, out var t) ? Host(t)
                    : throw new CompressException(ErrorKind.VerificationFailed, $"the model does not compute graph output '{spec.Name}'");
        }
        finally
        {
            foreach (var t in outputs.Values) t.Dispose();
        }
        return result;
    }

    private static List<OrtValue> OrtInputs(OnnxExportResult export, IReadOnlyDictionary<string, Tensor> x)
    {
        var values = new List<OrtValue>();
        foreach (var spec in export.Inputs)
        {
            using var input = x[spec.Name].cpu().contiguous();
            // An empty tensor (a decoder's empty cache) is allocated by ORT: there is no memory to pin.
            values.Add(input.numel() == 0
                ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance,
                    spec.ElementType == OnnxDataType.Int64 ? Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 : Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, input.shape)
                : spec.ElementType == OnnxDataType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(input.data<long>().ToArray(), input.shape)
                    : OrtValue.CreateTensorValueFromMemory(input.to_type(ScalarType.Float32).data<float>().ToArray(), input.shape));
        }
        return values;
    }

    /// <summary>The options of every verification session at <paramref name="level"/>. ONNX Runtime's CPU memory arena is
    /// off: it keeps every block it ever grew to until the session ends, so a graph that decodes one large weight after
    /// another (DequantizeLinear → MatMul at the parity level) would hold their sum; without it each decoded weight is
    /// freed after its product. The arena changes where tensors live, not what is computed.</summary>
    internal static SessionOptions SessionOptionsAt(GraphOptimizationLevel level) => new()
    {
        GraphOptimizationLevel = level, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = Runtime.ComputeThreads.Count,
        InterOpNumThreads = 1, EnableCpuMemArena = false,
    };

    /// <summary>Runs the exported model on every case at <paramref name="level"/> in one session (saving the optimised
    /// graph to <paramref name="optimizedPath"/> when given); returns every graph output by name, per case. With
    /// <paramref name="withOutputs"/> (the written graph) the session runs a copy of it that also outputs
    /// <paramref name="extraOutputs"/>, whose values on the first case come back by name.</summary>
    private static (List<Dictionary<string, (float[] Values, long[] Shape)>> Outputs, Dictionary<string, (float[] Values, long[] Shape)> Extra) Run(
        OnnxExportResult export, IReadOnlyList<OnnxVerificationCase> cases, GraphOptimizationLevel level, string? optimizedPath, ModelProto? withOutputs, IReadOnlyList<string> extraOutputs)
    {
        using var options = SessionOptionsAt(level);
        if (optimizedPath is not null)
        {
            options.OptimizedModelFilePath = optimizedPath;
            if (export.ExternalDataPath is not null)
                options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", Path.GetFileName(optimizedPath) + ".data");
        }
        InferenceSession session;
        if (withOutputs is null || extraOutputs.Count == 0) session = new InferenceSession(export.ModelPath, options);
        else
        {
            var copy = withOutputs.Clone();
            foreach (var name in extraOutputs)
                copy.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } } });
            if (export.ExternalDataPath is null) session = new InferenceSession(copy.ToByteArray(), options);
            else
            {
                // A model with external data is loaded from a file beside its side file, which it names relative to itself.
                string copyPath = Path.Combine(Path.GetDirectoryName(export.ModelPath)!, $".verify-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
                File.WriteAllBytes(copyPath, copy.ToByteArray());
                try { session = new InferenceSession(copyPath, options); }
                finally { File.Delete(copyPath); }
            }
        }
        using var owned = session;
        var extra = new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal);
        var outputs = cases.Select((c, i) => Run(session, export, c.Inputs, i == 0 ? extraOutputs : [], extra)).ToList();
        return (outputs, extra);
    }

    private static Dictionary<string, (float[] Values, long[] Shape)> Run(InferenceSession session, OnnxExportResult export, IReadOnlyDictionary<string, Tensor> x,
        IReadOnlyList<string> extraOutputs, Dictionary<string, (float[] Values, long[] Shape)> extra)
    {
        var values = OrtInputs(export, x);
        try
        {
            using var run = new RunOptions();
            var names = export.Outputs.Select(o => o.Name).ToList();
            using var outputs = session.Run(run, export.Inputs.Select(i => i.Name).ToList(), values, names.Concat(extraOutputs).ToList());
            var result = new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal);
            for (int i = 0; i < names.Count + extraOutputs.Count; i++)
                (i < names.Count ? result : extra)[i < names.Count ? names[i] : extraOutputs[i - names.Count]] =
                    (outputs[i].GetTensorDataAsSpan<float>().ToArray(), outputs[i].GetTensorTypeAndShape().Shape);
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>Runs the exported model on <paramref name="x"/> at <paramref name="level"/> (saving the optimised
    /// graph to <paramref name="optimizedPath"/> when given); returns every graph output by name.</summary>
    internal static Dictionary<string, (float[] Values, long[] Shape)> Run(OnnxExportResult export, IReadOnlyDictionary<string, Tensor> x, GraphOptimizationLevel level, string? optimizedPath) =>
        Run(export, [new OnnxVerificationCase("sample", x)], level, optimizedPath, null, []).Outputs[0];

    /// <summary>Compares every case (named in the failures when there are several); the worst max abs error and the
    /// lowest SQNR over all of them (NaN when a comparison failed).</summary>
    private static (double MaxAbs, double SqnrDb) CompareCases(IReadOnlyList<OnnxVerificationCase> cases, Dictionary<string, (float[] Values, long[] Shape)>[] expected,
        List<Dictionary<string, (float[] Values, long[] Shape)>> actual, List<string> failures, string level)
    {
        double maxAbs = 0, sqnr = double.PositiveInfinity;
        for (int i = 0; i < cases.Count; i++)
        {
            var (m, q) = CompareAll(expected[i], actual[i], failures, cases.Count == 1 ? level : $"{level} ({cases[i].Name})");
            if (double.IsNaN(m) || double.IsNaN(q)) return (double.NaN, double.NaN);
            maxAbs = Math.Max(maxAbs, m);
            sqnr = Math.Min(sqnr, q);
        }
        return (maxAbs, sqnr);
    }

    /// <summary>Compares every output; the worst max abs error and the lowest SQNR.</summary>
    private static (double MaxAbs, double SqnrDb) CompareAll(Dictionary<string, (float[] Values, long[] Shape)> expected,
        Dictionary<string, (float[] Values, long[] Shape)> actual, List<string> failures, string level)
    {
        double maxAbs = 0, sqnr = double.PositiveInfinity;
        foreach (var (name, (values, shape)) in expected)
        {
            var (a, aShape) = actual[name];
            var (m, q) = Compare(values, shape, a, aShape, failures, expected.Count == 1 ? level : $"{level} output '{name}'");
            if (double.IsNaN(m) || double.IsNaN(q)) return (double.NaN, double.NaN);
            maxAbs = Math.Max(maxAbs, m);
            sqnr = Math.Min(sqnr, q);
        }
        return (maxAbs, sqnr);
    }

    private static (double MaxAbs, double SqnrDb) Compare(float[] expected, long[] expectedShape, float[] actual, long[] shape, List<string> failures, string level)
    {
        if (!expectedShape.SequenceEqual(shape))
        {
            failures.Add($"{level}: ORT output shape [{string.Join(", ", shape)}] differs from TorchSharp's [{string.Join(", ", expectedShape)}]");
            return (double.NaN, double.NaN);
        }
        if (actual.Any(v => !float.IsFinite(v))) failures.Add($"{level}: ORT output has NaN or Inf");
        using var scope = NewDisposeScope();
        var e = tensor(expected);
        var a = tensor(actual);
        double maxAbs = expected.Length == 0 ? 0 : e.sub(a).abs().max().to_type(ScalarType.Float64).item<double>();
        return (maxAbs, Sqnr.Db(e, a));
    }
}
