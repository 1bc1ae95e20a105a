using Compressor.Engine.Tests.Kinds;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Import;
using Compressor.Engine.Onnx.Verification;
using Google.Protobuf;
using Onnx;
using Xunit.Abstractions;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>An imported graph written for opset 10 re-exports as its own graph: FP32 at opset 13 and with a 4-bit
/// (opset 21) or 2-bit (opset 25) layer, converting the nodes whose signature changed in between (Clip at 11,
/// Softmax's 2-D coercion and Unsqueeze/Squeeze at 13, ReduceMean at 18), with the fused MatMul + Add bias restored.</summary>
public sealed class OnnxReemissionTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("reemission-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>x [batch, 4, 64] → MatMul + Add (one layer, "fc") → Clip(-1, 2) → Softmax(axis 1, 2-D coercion) →
    /// ReduceMean(axes [2]) → Unsqueeze(0) → Squeeze(0): outputs "y" and the softmax "p".</summary>
    private static ModelProto Graph()
    {
        var g = new Generator(5);
        using var w = randn([64, 32], generator: g);
        using var b = randn([32], generator: g);
        return Model(10,
        [
            Node("MatMul", "mm", ["x", "fc.weight_t"], ["h"]),
            Node("Add", "add", ["h", "fc.bias"], ["h2"]),
            Node("Clip", "clip", ["h2"], ["c"], Attr("min", -1f), Attr("max", 2f)),
            Node("Softmax", "softmax", ["c"], ["p"], Attr("axis", 1L)),
            Node("ReduceMean", "mean", ["p"], ["r"], Attr("axes", new long[] { 2 }), Attr("keepdims", 1L)),
            Node("Unsqueeze", "unsqueeze", ["r"], ["u"], Attr("axes", new long[] { 0 })),
            Node("Squeeze", "squeeze", ["u"], ["y"], Attr("axes", new long[] { 0 })),
        ], [Float("x", "batch", 4, 64)], [Float("y", "batch", 4, 1), Float("p", "batch", 4, 32)], [Init("fc.weight_t", w), Init("fc.bias", b)]);
    }

    private static ImportedModel Load(ModelProto proto) => OnnxImporter.ToModel(proto, null, "test graph", TestKinds.All);

    private static void Quantize(CompressibleModel model, int bits)
    {
        using var scope = NewDisposeScope();
        var fc = (TorchSharp.Modules.Linear)model.GetLayer("fc");
        model.ReplaceLayer("fc", TestQuantizedLinear.Quantize(fc.weight!.detach(), fc.bias!.detach(), bits, groupSize: 32));
    }

    [Fact]
    public void Fp32ReexportConvertsOpset10NodesTo13AndMatchesTheOriginal()
    {
        var proto = Graph();
        string original = Path.Combine(_dir, "original.onnx");
        File.WriteAllBytes(original, proto.ToByteArray());
        using var model = Load(proto);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "fp32.onnx"), TestKinds.All);
        Assert.Equal(13, export.Opset);
        Assert.Equal("batch", export.Inputs[0].Shape[0].Symbol);
        Assert.Equal(["y", "p"], export.Outputs.Select(o => o.Name));

        var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        var ops = written.Graph.Node.Select(n => n.OpType).ToList();
        output.WriteLine(string.Join(" → ", ops));
        Assert.Equal(["MatMul", "Add", "Clip", "Shape", "Flatten", "Softmax", "Reshape", "ReduceMean", "Unsqueeze", "Squeeze"], ops);
        Assert.Equal(3, written.Graph.Node.Single(n => n.OpType == "Clip").Input.Count);
        Assert.Empty(written.Graph.Node.Single(n => n.OpType == "Unsqueeze").Attribute);
        Assert.Contains(written.Graph.Node.Single(n => n.OpType == "ReduceMean").Attribute, a => a.Name == "axes");   // an attribute until 18
        Assert.Equal(["fc.weight_t", "fc.bias"], written.Graph.Initializer.Take(2).Select(i => i.Name));

        using var x = randn([3, 4, 64], generator: new Generator(9)) * 3;
        var feed = new Dictionary<string, Tensor> { ["x"] = x };
        using var ortOriginal = OrtReference.Session(original);
        using var ortExported = OrtReference.Session(export.ModelPath);
        var expected = OrtReference.Run(ortOriginal, feed);
        var actual = OrtReference.Run(ortExported, feed);
        foreach (var name in new[] { "y", "p" })
        {
            double maxAbs = (expected[name] - actual[name]).abs().max().item<float>();
            output.WriteLine($"{name}: max abs vs ORT on the opset-10 original {maxAbs:E2}");
            Assert.True(maxAbs <= 1e-6, $"{name}: {maxAbs}");
        }
        foreach (var t in expected.Values.Concat(actual.Values)) t.Dispose();
        var verification = OnnxVerifier.Verify(model, export);
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
    }

    [Theory]
    [InlineData(4, 21)]
    [InlineData(2, 25)]
    public void QuantizedLayerIsLoweredWithItsBiasAndTheRestConverted(int bits, int opset)
    {
        using var model = Load(Graph());
        Quantize(model, bits);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, $"q{bits}.onnx"), TestKinds.All);
        var again = OnnxExporter.Export(model, Path.Combine(_dir, $"q{bits}-again.onnx"), TestKinds.All);
        Assert.Equal(export.Sha256, again.Sha256);
        Assert.Equal(opset, export.Opset);
        var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        var ops = written.Graph.Node.Select(n => n.OpType).ToList();
        output.WriteLine(string.Join(" → ", ops));
        Assert.Equal(["DequantizeLinear", "MatMul", "Add", "Identity", "Clip"], ops.Take(5));
        Assert.DoesNotContain(written.Graph.Node.Single(n => n.OpType == "ReduceMean").Attribute, a => a.Name == "axes");   // an input from 18
        Assert.Equal(2, written.Graph.Node.Single(n => n.OpType == "ReduceMean").Input.Count);
        Assert.DoesNotContain(written.Graph.Initializer, i => i.Name == "fc.weight_t");

        var verification = OnnxVerifier.Verify(model, export);
        output.WriteLine($"{bits}-bit: BASIC max abs {verification.MaxAbsError:E2} ({verification.SqnrDb:F1} dB), fused [{string.Join(", ", verification.FusedKernels)}]");
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
        Assert.True(verification.SqnrDb > 100, $"{verification.SqnrDb:F1} dB");
        Assert.Equal(export.CompressedTheoreticalBytes, export.CompressedTensorBytes);
    }

    /// <summary>Gemm(x, B, C) with alpha 0.5, beta 2, transB 1 (folded into the layer at import) re-exports with both
    /// scales at 1 and the folded tensors, FP32 and as a quantized layer.</summary>
    [Fact]
    public void GemmWithScalesReexportsFoldedAndQuantized()
    {
        var g = new Generator(11);
        using var w = randn([32, 64], generator: g);
        using var c = randn([1, 32], generator: g);
        var proto = Model(11, [Node("Gemm", "gemm", ["x", "fc.weight", "fc.bias"], ["y"], Attr("alpha", 0.5f), Attr("beta", 2f), Attr("transB", 1L))],
            [Float("x", "batch", 64)], [Float("y", "batch", 32)], [Init("fc.weight", w), Init("fc.bias", c)]);
        string original = Path.Combine(_dir, "gemm.onnx");
        File.WriteAllBytes(original, proto.ToByteArray());
        using var model = Load(proto);
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "gemm-fp32.onnx"), TestKinds.All);
        var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(export.ModelPath));
        Assert.All(written.Graph.Node.Single().Attribute.Where(a => a.Name is "alpha" or "beta"), a => Assert.Equal(1f, a.F));
        Assert.Equal(new long[] { 1, 32 }, written.Graph.Initializer.Single(i => i.Name == "fc.bias").Dims);

        using var x = randn([5, 64], generator: new Generator(12));
        var feed = new Dictionary<string, Tensor> { ["x"] = x };
        using var ortOriginal = OrtReference.Session(original);
        using var ortExported = OrtReference.Session(export.ModelPath);
        using var expected = OrtReference.Run(ortOriginal, feed)["y"];
        using var actual = OrtReference.Run(ortExported, feed)["y"];
        double maxAbs = (expected - actual).abs().max().item<float>();
        output.WriteLine($"Gemm FP32 re-export: max abs vs ORT on the original {maxAbs:E2}");
        Assert.True(maxAbs <= 1e-5, $"{maxAbs}");

        Quantize(model, 4);
        var quantized = OnnxExporter.Export(model, Path.Combine(_dir, "gemm-q4.onnx"), TestKinds.All);
        var verification = OnnxVerifier.Verify(model, quantized);
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
        Assert.True(verification.SqnrDb > 100, $"{verification.SqnrDb:F1} dB");
    }
}
