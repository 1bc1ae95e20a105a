using System.Security.Cryptography;
using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Writes a <see cref="CompressibleModel"/> as an ONNX model that ONNX Runtime runs: the root module
/// (an <see cref="IOnnxExportableModel"/>) emits the graph, compressed layers are lowered by their kind
/// (<see cref="ILayerKind.Lower"/>, from the <see cref="LayerKindSet"/> handed in: packed codes, never float weights), and every op/type/opset is checked against what
/// ORT 1.31 CPU runs (<see cref="OrtCompatibility"/>) before anything is written. The bytes depend only on the model
/// and the options: no timestamps, nodes and initializers in emission order, attributes sorted by name.</summary>
public static class OnnxExporter
{
    /// <summary>The producer name written into every model.</summary>
    public const string ProducerName = "compress";

    /// <summary>The producer version written into every model: this engine's version, <c>major.minor.patch</c>.</summary>
    public static string ProducerVersion { get; } = EngineVersion();

    /// <summary>The IR version that goes with an <c>ai.onnx</c> opset: 10 up to opset 22, 11 for 23, 12 for 24, 13 for 25.</summary>
    public static long IrVersionFor(int opset) => opset switch { <= 22 => 10, 23 => 11, 24 => 12, _ => 13 };

    /// <summary>Builds the model in memory (no file written), with the compressed layers it lowered.</summary>
    /// <exception cref="CompressException">The model cannot be exported, or uses something ORT 1.31 CPU does not run
    /// (kind <see cref="ErrorKind.VerificationFailed"/>); a weights-only model (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public static (ModelProto Model, IReadOnlyList<ExportedCompressedLayer> CompressedLayers, IOnnxExportableModel Root) Build(CompressibleModel model, LayerKindSet kinds,
        OnnxExportOptions? options = null)
    {
        var (proto, compressed, root, _) = Build(model, kinds, options, null, null);
        return (proto, compressed, root);
    }

    private static (ModelProto Model, IReadOnlyList<ExportedCompressedLayer> CompressedLayers, IOnnxExportableModel Root, IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> Leased)
        Build(CompressibleModel model, LayerKindSet kinds, OnnxExportOptions? options, IOnnxModuleSource? moduleSource, ExternalData.Writer? sink)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        options ??= new OnnxExportOptions();
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "a weights-only model (unknown architecture) cannot be exported to ONNX: load it with --arch");
        if (model.Module is not IOnnxExportableModel root)
            throw new CompressException(ErrorKind.VerificationFailed, $"architecture {model.ArchitectureName ?? model.Module.GetType().Name} does not implement ONNX export ({nameof(IOnnxExportableModel)})");
        if (options.Opset is { } asked && (asked < 13 || asked > OnnxExportOptions.MaximumOpset))
            throw new CompressException(ErrorKind.InvalidOptions, $"--opset {asked}: supported opsets are 13..{OnnxExportOptions.MaximumOpset}");

        // A graph written for an opset of its own (an imported model) keeps it, at least 13 (the table's floor);
        // lowerings raise it as far as they need.
        int minimum = options.Opset ?? (root.SourceOpset is { } source ? Math.Clamp(source, 13, OnnxExportOptions.MaximumOpset) : OnnxExportOptions.DefaultOpset);
        var builder = new OnnxGraphBuilder(minimum, kinds, options.Target, options.DeployTokens) { Source = moduleSource, Sink = sink };
        var graph = new GraphProto { Name = options.GraphName ?? model.ArchitectureName ?? "model" };
        foreach (var input in root.OnnxInputs)
        {
            if (builder.Unique(input.Name) != input.Name) throw new InvalidOperationException($"graph input name '{input.Name}' is used twice");
            graph.Input.Add(ValueInfo(input));
        }
        foreach (var output in root.OnnxOutputs)
            if (builder.Unique(output.Name) != output.Name) throw new InvalidOperationException($"graph output name '{output.Name}' is used twice");

        IReadOnlyList<string> results;
        // Every temporary tensor of the emitters and lowerings (plugins' included) dies with this scope: the graph
        // holds byte copies only.
        using (NewDisposeScope())
        using (no_grad())
        {
            bool training = model.Module.training;
            model.Module.eval();
            try { results = builder.Emit("", model.Module, root.OnnxInputs.Select(i => i.Name).ToList()); }
            finally { if (training) model.Module.train(); }
        }
        if (results.Count != root.OnnxOutputs.Count)
            throw new CompressException(ErrorKind.VerificationFailed, $"ONNX export: the model emitted {results.Count} outputs, it declares {root.OnnxOutputs.Count}");
        for (int i = 0; i < results.Count; i++)
        {
            if (results[i] != root.OnnxOutputs[i].Name) builder.AddNode("Identity", [results[i]], [root.OnnxOutputs[i].Name], null, "");
            graph.Output.Add(ValueInfo(root.OnnxOutputs[i]));
        }

        int opset = builder.Opsets[""];
        OnnxOpsetUpgrade.Apply(builder, opset);
        if (options.Opset is { } requested && requested < opset)
            throw new CompressException(ErrorKind.InvalidOptions, $"--opset {requested}: the model needs ai.onnx opset {opset} (int4 weights need 21, int2 weights 25)");
        graph.Node.AddRange(builder.Nodes);
        graph.Initializer.AddRange(builder.Initializers);
        var proto = new ModelProto
        {
            IrVersion = IrVersionFor(opset),
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersion,
            Graph = graph,
        };
        foreach (var (domain, version) in builder.Opsets) proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });

        var problems = OrtCompatibility.Check(proto);
        if (problems.Count > 0)
            throw new CompressException(ErrorKind.VerificationFailed,
                $"ONNX export: {problems.Count} incompatibilit{(problems.Count == 1 ? "y" : "ies")} with ONNX Runtime {OrtCompatibility.RuntimeVersion} CPU: {string.Join("; ", problems.Take(5))}");
        return (proto, builder.CompressedLayers, root, builder.LeasedOutputs);
    }

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (atomically; with a side file
    /// <c>path + ".data"</c> when the tensors exceed <see cref="OnnxExportOptions.ExternalDataThreshold"/>).</summary>
    /// <exception cref="CompressException">As <see cref="Build(CompressibleModel, LayerKindSet, OnnxExportOptions?)"/>; an unwritable path (kind <see cref="ErrorKind.OutputFailed"/>).</exception>
    public static OnnxExportResult Export(CompressibleModel model, string path, LayerKindSet kinds, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        var (proto, compressed, root) = Build(model, kinds, options);
        var sizes = proto.Graph.Initializer.Select(t => new KeyValuePair<string, long>(t.Name, t.RawData.Length)).ToList();
        long total = sizes.Sum(kv => kv.Value);
        string? dataPath = null;
        try
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null) Directory.CreateDirectory(directory);
            if (total > options.ExternalDataThreshold)
            {
                dataPath = path + ".data";
                ExternalData.Write(proto.Graph, dataPath, options.ExternalDataMinimumBytes);
            }
            if (proto.CalculateSize() > OnnxExportOptions.ProtobufLimit)
                throw new CompressException(ErrorKind.OutputFailed, $"the ONNX graph is over the 2 GiB protobuf limit even with external data ({proto.CalculateSize()} bytes)");
            AtomicFile.Write(path, s => proto.WriteTo(s));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write {path}: {e.Message}");
        }
        long bytes = new FileInfo(path).Length + (dataPath is null ? 0 : new FileInfo(dataPath).Length);
        string sha = Sha256(path) + (dataPath is null ? "" : "+" + Sha256(dataPath));
        var opsets = proto.OpsetImport.ToDictionary(o => o.Domain, o => (int)o.Version);
        return new OnnxExportResult(Path.GetFullPath(path), dataPath is null ? null : Path.GetFullPath(dataPath), opsets[""], proto.IrVersion, opsets,
            bytes, sha, sizes, compressed, root.OnnxInputs, root.OnnxOutputs) { Target = options.Target };
    }

    /// <summary>Exports a decoder whose tensors are not held in memory: <paramref name="declared"/> (the whole model
    /// on the meta device) gives the graph's structure, and <paramref name="source"/> lends each block, the
    /// embeddings and the head as they are emitted (<see cref="IOnnxModuleSource"/>). Every initializer of at least
    /// <see cref="OnnxExportOptions.ExternalDataMinimumBytes"/> goes to the side file <c>path + ".data"</c>, each
    /// leased module's as soon as it is emitted, so that no more than one block's tensors and their ONNX bytes are
    /// resident. The files are byte for byte those <see cref="Export"/> writes for the same model held whole with
    /// <see cref="OnnxExportOptions.ExternalDataThreshold"/> 0 (the same nodes, initializers and side-file offsets, in
    /// the same order). <see cref="OnnxExportResult.LeasedOutputs"/> names the graph value each leased module output.</summary>
    /// <exception cref="CompressException">As <see cref="Export"/>.</exception>
    public static OnnxExportResult ExportStreamed(CompressibleModel declared, IOnnxModuleSource source, string path, LayerKindSet kinds, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= new OnnxExportOptions();
        string dataPath = path + ".data";
        ModelProto? proto = null;
        IReadOnlyList<ExportedCompressedLayer> compressed = [];
        IOnnxExportableModel? root = null;
        IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> leased = [];
        try
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null) Directory.CreateDirectory(directory);
            AtomicFile.Write(dataPath, stream =>
            {
                var writer = new ExternalData.Writer(stream, Path.GetFileName(dataPath), options.ExternalDataMinimumBytes);
                (proto, compressed, root, leased) = Build(declared, kinds, options, source, writer);
                foreach (var t in proto.Graph.Initializer) writer.Move(t);
            });
            if (proto!.CalculateSize() > OnnxExportOptions.ProtobufLimit)
                throw new CompressException(ErrorKind.OutputFailed, $"the ONNX graph is over the 2 GiB protobuf limit even with external data ({proto.CalculateSize()} bytes)");
            AtomicFile.Write(path, s => proto.WriteTo(s));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write {path}: {e.Message}");
        }
        return Result(path, dataPath, proto, compressed, root!, options) with
        {
            LeasedOutputs = leased.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value[0])).ToList(),
        };
    }

    private static OnnxExportResult Result(string path, string? dataPath, ModelProto proto, IReadOnlyList<ExportedCompressedLayer> compressed, IOnnxExportableModel root,
        OnnxExportOptions options)
    {
        var sizes = proto.Graph.Initializer.Select(t => new KeyValuePair<string, long>(t.Name, ExternalData.Length(t))).ToList();
        long bytes = new FileInfo(path).Length + (dataPath is null ? 0 : new FileInfo(dataPath).Length);
        string sha = Sha256(path) + (dataPath is null ? "" : "+" + Sha256(dataPath));
        var opsets = proto.OpsetImport.ToDictionary(o => o.Domain, o => (int)o.Version);
        return new OnnxExportResult(Path.GetFullPath(path), dataPath is null ? null : Path.GetFullPath(dataPath), opsets[""], proto.IrVersion, opsets,
            bytes, sha, sizes, compressed, root.OnnxInputs, root.OnnxOutputs) { Target = options.Target };
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    private static string EngineVersion()
    {
        var v = typeof(OnnxExporter).Assembly.GetName().Version ?? new System.Version(0, 0, 0);
        return $"{v.Major}.{v.Minor}.{Math.Max(0, v.Build)}";
    }

    private static ValueInfoProto ValueInfo(OnnxValueSpec spec)
    {
        var shape = new TensorShapeProto();
        foreach (var d in spec.Shape)
            shape.Dim.Add(d.Symbol is null ? new TensorShapeProto.Types.Dimension { DimValue = d.Size } : new TensorShapeProto.Types.Dimension { DimParam = d.Symbol });
        return new ValueInfoProto
        {
            Name = spec.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = spec.ElementType, Shape = shape } },
        };
    }
}
