using System.Globalization;
using Compressor.Engine.Kinds;
using Compressor.Sdk.Layers;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Accumulates one graph: nodes and initializers in the order they are added (so the same model always
/// gives the same bytes), unique names, the opsets required, and which initializers each compressed layer added.
/// Hands out <see cref="IOnnxExportContext"/> views positioned at each module and <see cref="ILoweringContext"/>
/// views for compressed layers, which their kinds (from <paramref name="kinds"/>) lower.</summary>
internal sealed class OnnxGraphBuilder(int minimumOpset, LayerKindSet kinds, ExportTarget target = ExportTarget.Size, int deployTokens = 0)
{
    private readonly ExportTarget _target = target;
    private readonly int _deployTokens = deployTokens;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _compressedMatMulOutputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, int> _opsets = new(StringComparer.Ordinal) { [""] = minimumOpset };

    public List<NodeProto> Nodes { get; } = [];

    /// <summary>Nodes added with <see cref="AddSourceNode"/> and the opset each was written for.</summary>
    public Dictionary<NodeProto, int> SourceNodes { get; } = new(ReferenceEqualityComparer.Instance);
    public List<TensorProto> Initializers { get; } = [];
    public List<ExportedCompressedLayer> CompressedLayers { get; } = [];
    public IReadOnlyDictionary<string, int> Opsets => _opsets;

    /// <summary>Where leased modules come from (a streamed export), or null.</summary>
    public IOnnxModuleSource? Source { get; init; }

    /// <summary>The side file that takes the initializers emitted so far after each leased module (a streamed export), or null.</summary>
    public ExternalData.Writer? Sink { get; init; }

    /// <summary>The outputs of every leased module, by name, in emission order.</summary>
    public List<KeyValuePair<string, IReadOnlyList<string>>> LeasedOutputs { get; } = [];

    private int _moved;

    /// <summary>Emits <paramref name="module"/> named <paramref name="name"/> on <paramref name="inputs"/> — or the module
    /// <see cref="Source"/> leases for it, released once emitted —: through the lowering of its compressed layer kind,
    /// its own <see cref="IOnnxExportable"/>, or a leaf emitter.</summary>
    public IReadOnlyList<string> Emit(string name, nn.Module module, IReadOnlyList<string> inputs)
    {
        if (Source?.Lease(name, module) is not { } lease) return EmitModule(name, module, inputs);
        try
        {
            var outputs = EmitModule(name, lease.Module, inputs);
            LeasedOutputs.Add(new(name, outputs));
            if (Sink is not null)
            {
                for (; _moved < Initializers.Count; _moved++) Sink.Move(Initializers[_moved]);
            }
            return outputs;
        }
        finally
        {
            lease.Release?.Dispose();
            // The module's tensors are disposed and its initializers' bytes moved to the side file; the managed copies
            // they leave (the large object heap, collected only with generation 2) are collected now, so that the
            // resident size stays that of one leased module instead of growing module after module.
            if (Sink is not null) GC.Collect();
        }
    }

    private IReadOnlyList<string> EmitModule(string name, nn.Module module, IReadOnlyList<string> inputs)
    {
        if (module is ICompressedLayer compressed && kinds.TryGet(compressed.Kind, out var lowering))
        {
            if (inputs.Count != 1) throw Fail(name, $"compressed layer takes one input, got {inputs.Count}");
            int first = Initializers.Count, firstNode = Nodes.Count;
            string output = Unique((name.Length == 0 ? "" : name + ".") + "output");
            lowering.Lower(new LoweringView(this, name), module, inputs[0], output);
            // int64 initializers a lowering adds are shapes/axes (metadata, never weights): not counted as compressed tensors.
            var added = Initializers.Skip(first).Where(t => t.DataType != OnnxDataType.Int64).Select(t => t.Name).ToList();
            CompressedLayers.Add(new ExportedCompressedLayer(name, compressed.Kind, added, output, TheoreticalBytes(module, compressed)));
            if (Nodes.Skip(firstNode).Any(n => n.OpType == "MatMul")) _compressedMatMulOutputs.Add(output);
            return [output];
        }
        var view = new ModuleView(this, name, module);
        if (module is IOnnxExportable exportable) return exportable.ExportOnnx(view, inputs);
        if (module is ICompressedLayer c)
            throw Fail(name, $"no ONNX lowering for compressed layer kind '{c.Kind}': unknown kind (is the plugin that produced it installed? known: {kinds.KnownText})");
        var emitter = OnnxModuleEmitters.Find(module)
                      ?? throw Fail(name, $"module type {module.GetType().Name} cannot be exported to ONNX (implement {nameof(IOnnxExportable)})");
        return emitter.Emit(view, inputs);
    }

    /// <summary>Theoretical bytes of what stands for the weight (codes, scales, zero points, …) plus the layer's own
    /// floating-point bias, which the lowering writes too.</summary>
    private static long TheoreticalBytes(nn.Module module, ICompressedLayer layer)
    {
        long bias = module.named_buffers(recurse: false).Concat(module.named_parameters(recurse: false).Select(p => (p.name, (Tensor)p.parameter)))
            .Where(t => t.Item1 == "bias").Sum(t => t.Item2.numel() * 4);
        return (layer.WeightStorageBits + 7) / 8 + bias;
    }

    /// <summary>Whether <paramref name="value"/> is the output of a compressed layer whose lowering ends in a MatMul
    /// (DQ → MatMul, which ORT fuses into MatMulNBits), for emitters that choose a form that fusion tolerates.</summary>
    public static bool IsCompressedMatMulOutput(IOnnxExportContext context, string value) =>
        context is ModuleView view && view.Builder._compressedMatMulOutputs.Contains(value);

    public string Unique(string hint)
    {
        if (_names.Add(hint)) return hint;
        for (int i = 1; ; i++)
        {
            string candidate = hint + "_" + i.ToString(CultureInfo.InvariantCulture);
            if (_names.Add(candidate)) return candidate;
        }
    }

    public string AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, IReadOnlyDictionary<string, object>? attributes, string domain)
    {
        var node = new NodeProto { OpType = opType, Domain = domain, Name = outputs.Count > 0 ? outputs[0] : Unique(opType) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        if (attributes is not null)
            foreach (var (key, value) in attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                node.Attribute.Add(Attribute(key, value));
        Nodes.Add(node);
        if (domain.Length > 0 && !_opsets.ContainsKey(domain)) _opsets[domain] = 1;
        return outputs.Count > 0 ? outputs[0] : "";
    }

    public void AddSourceNode(NodeProto node, int sourceOpset)
    {
        if (node.Domain is not ("" or "ai.onnx"))
            throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: node '{node.Name}' ({node.Domain}.{node.OpType}) is not in the ai.onnx domain");
        var copy = node.Clone();
        foreach (var name in copy.Output)
            if (name.Length > 0) _names.Add(name);
        if (copy.Name.Length > 0) _names.Add(copy.Name);
        Nodes.Add(copy);
        SourceNodes[copy] = sourceOpset;
    }

    public string AddInitializer(OnnxInitializer initializer)
    {
        // Names come from Unique (already reserved) or from a plugin's lowering; an initializer name twice is a bug.
        _names.Add(initializer.Name);
        if (!_initializerNames.Add(initializer.Name)) throw new InvalidOperationException($"initializer name '{initializer.Name}' is used twice");
        long count = initializer.Dims.Aggregate(1L, (a, b) => a * b);
        int bits = OnnxDataType.BitsOf(initializer.DataType);
        if (bits > 0 && (count * bits + 7) / 8 != initializer.RawData.Length)
            throw new ArgumentException($"initializer '{initializer.Name}': {initializer.RawData.Length} bytes for {count} elements of {OnnxDataType.Name(initializer.DataType)}");
        var t = new TensorProto { Name = initializer.Name, DataType = initializer.DataType, RawData = ByteString.CopyFrom(initializer.RawData) };
        t.Dims.AddRange(initializer.Dims);
        Initializers.Add(t);
        return initializer.Name;
    }

    /// <summary>Adds a copy of <paramref name="tensor"/> under <paramref name="name"/> (from <see cref="Unique"/>).</summary>
    public string AddTensor(string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var t = tensor.detach().cpu();
        int type;
        switch (t.dtype)
        {
            case ScalarType.Float32: type = OnnxDataType.Float; break;
            case ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16: t = t.to_type(ScalarType.Float32); type = OnnxDataType.Float; break;
            case ScalarType.Int64: type = OnnxDataType.Int64; break;
            case ScalarType.Int32: type = OnnxDataType.Int32; break;
            case ScalarType.Byte: type = OnnxDataType.UInt8; break;
            case ScalarType.Int8: type = OnnxDataType.Int8; break;
            default: throw new ArgumentException($"{name}: tensors of {t.dtype} cannot be exported");
        }
        t = t.contiguous();
        return AddInitializer(new OnnxInitializer(name, type, t.shape, t.bytes.ToArray()));
    }

    public string Int64Constant(long[] values)
    {
        string key = "i64:" + string.Join(",", values);
        if (_constants.TryGetValue(key, out var name)) return name;
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        name = AddInitializer(new OnnxInitializer(Unique("const_i64_" + string.Join("_", values).Replace('-', 'm')), OnnxDataType.Int64, [values.Length], bytes));
        _constants[key] = name;
        return name;
    }

    public string FloatConstant(float value)
    {
        string key = "f32:" + BitConverter.SingleToInt32Bits(value).ToString(CultureInfo.InvariantCulture);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = AddInitializer(new OnnxInitializer(Unique("const_f32_" + value.ToString("R", CultureInfo.InvariantCulture).Replace('-', 'm')), OnnxDataType.Float, [],
            BitConverter.GetBytes(value)));
        _constants[key] = name;
        return name;
    }

    public void RequireOpset(string domain, int version)
    {
        if (!_opsets.TryGetValue(domain, out int have) || have < version) _opsets[domain] = version;
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case double d: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)d; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case int[] isz: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(isz.Select(x => (long)x)); break;
            case float[] fs: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(fs); break;
            default: throw new ArgumentException($"attribute '{name}': values of type {value.GetType().Name} are not supported");
        }
        return a;
    }

    private static CompressException Fail(string name, string message) =>
        new(ErrorKind.VerificationFailed, $"ONNX export: {(name.Length == 0 ? "model" : $"'{name}'")}: {message}");

    private static string Child(string parent, string child) => parent.Length == 0 ? child : parent + "." + child;

    /// <summary>The builder seen from one module.</summary>
    private sealed class ModuleView(OnnxGraphBuilder builder, string name, nn.Module module) : IOnnxExportContext
    {
        public OnnxGraphBuilder Builder => builder;

        public string ModuleName => name;
        public nn.Module Module => module;
        public int Opset => builder._opsets[""];

        public IReadOnlyList<string> EmitChild(string childName, IReadOnlyList<string> inputs)
        {
            nn.Module current = module;
            foreach (var part in childName.Split('.'))
            {
                nn.Module? next = null;
                foreach (var (n, child) in current.named_children())
                    if (n == part)
                    {
                        next = child;
                        break;
                    }
                current = next ?? throw Fail(name, $"no child module '{childName}'");
            }
            return builder.Emit(Child(name, childName), current, inputs);
        }

        public string UniqueName(string hint) => builder.Unique(name.Length == 0 ? hint : name + "/" + hint);

        public string AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, IReadOnlyDictionary<string, object>? attributes = null, string domain = "") =>
            builder.AddNode(opType, inputs, outputs, attributes, domain);

        public string AddNode(string opType, params string[] inputs) => builder.AddNode(opType, inputs, [UniqueName(opType)], null, "");

        public string AddTensor(string localName, Tensor tensor) => builder.AddTensor(builder.Unique(Child(name, localName)), tensor);

        public string AddInitializer(OnnxInitializer initializer) => builder.AddInitializer(initializer);

        public void AddSourceNode(NodeProto node, int sourceOpset) => builder.AddSourceNode(node, sourceOpset);

        public string Int64Constant(params long[] values) => builder.Int64Constant(values);

        public string FloatConstant(float value) => builder.FloatConstant(value);

        public void RequireOpset(string domain, int version) => builder.RequireOpset(domain, version);
    }

    /// <summary>The builder seen from one compressed layer's lowering: names are the layer name + "." + hint.</summary>
    private sealed class LoweringView(OnnxGraphBuilder builder, string layerName) : ILoweringContext
    {
        public string LayerName => layerName;

        public ExportTarget Target => builder._target;

        public int DeployTokens => builder._deployTokens;

        public string UniqueName(string hint) => builder.Unique(Child(layerName, hint));

        public void AddInitializer(OnnxInitializer initializer) => builder.AddInitializer(initializer);

        public void AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, IReadOnlyDictionary<string, object>? attributes = null, string domain = "") =>
            builder.AddNode(opType, inputs, outputs, attributes, domain);

        public void RequireOpset(string domain, int version) => builder.RequireOpset(domain, version);
    }
}
