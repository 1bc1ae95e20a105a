using Compressor.Tests.Shared;
using System.Diagnostics;
using Compressor.Samples.RoundToNearest;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Quantized;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Samples.RoundToNearest.Algorithm;

namespace RoundToNearest.Tests;

/// <summary>The real all-MiniLM-L6-v2 (PyTorch export, opset 13, three int64 inputs) imported, optionally quantized by
/// rtn, and re-exported as its own graph: FP32 parity with ORT on the original file, and at 8/4/2 bits the size against
/// theory, the verification gate (every named input fed, every output compared), the sentence-embedding cosine
/// against FP32 on real sentences, the fused kernels and deterministic bytes.</summary>
public sealed class MiniLmReexportTests(MiniLmReexportFixture fixture, ITestOutputHelper output) : IClassFixture<MiniLmReexportFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("minilm-reexport-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Fp32ReexportMatchesOrtOnTheOriginalFile()
    {
        using var model = ModelIO.Load(fixture.Files.ModelPath, RtnKinds.All);
        var watch = Stopwatch.StartNew();
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "fp32.onnx"), RtnKinds.All);
        double exportSeconds = watch.Elapsed.TotalSeconds;
        Assert.Equal(13, export.Opset);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], export.Inputs.Select(i => i.Name));
        Assert.Empty(export.CompressedLayers);

        var ours = OrtRunner.Run(export.ModelPath, fixture.Inputs, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        Assert.Equal(fixture.Reference.Keys, ours.Keys);
        foreach (var (name, reference) in fixture.Reference)
        {
            Assert.Equal(reference.shape, ours[name].shape);
            double maxAbs = (ours[name] - reference).abs().max().item<float>();
            output.WriteLine($"output '{name}' {string.Join("x", reference.shape)}: max abs vs ORT on the original {maxAbs:E2}");
            Assert.True(maxAbs <= 1e-4, $"output '{name}': max abs {maxAbs} > 1e-4");
            ours[name].Dispose();
        }
        long original = new FileInfo(fixture.Files.ModelPath).Length;
        output.WriteLine($"export {exportSeconds:F2} s, {export.BytesOnDisk} bytes (original file {original})");

        var verification = OnnxVerifier.Verify(model, export);
        output.WriteLine($"gate: BASIC max abs {verification.MaxAbsError:E2} ({verification.SqnrDb:F1} dB), ALL {verification.OptimizedMaxAbsError:E2}");
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
    }

    // Floors are the measured cosines of plain symmetric RTN (group 32, full signed grid) on these sentences (min over
    // ORT_ENABLE_ALL and BASIC), less a margin of ≥ 0.005 because ENABLE_ALL runs ORT's int8-compute MatMulNBits, whose
    // rounding depends on the CPU's instruction set: 8-bit 0.99964 → 0.999, 4-bit 0.96035 → 0.955 (0.954 with the older
    // ±7 grid), 2-bit 0.123 → 0.10 (2-bit RTN destroys MiniLM), 4-bit with the embedding tables quantized too 0.95008 →
    // 0.945. The export itself is exact (BASIC parity > 100 dB against TorchSharp), so these are rtn's numbers, not the
    // file's. Why 4-bit stays below 0.99 and what reaches it: MixedPrecisionRtnReachesTheCosineGoal, bench/README.md.
    // Asymmetric with clip search (0.972 at 4 bits) takes ~35 s per model on 2 cores, too slow for this suite.
    [Theory]
    [InlineData(8, QuantScheme.Symmetric, false, 0.999)]
    [InlineData(4, QuantScheme.Symmetric, false, 0.955)]
    [InlineData(2, QuantScheme.Symmetric, false, 0.10)]
    [InlineData(4, QuantScheme.Symmetric, false, 0.945, true)]
    public void RtnExportsAtTheoryFusesAndKeepsEmbeddings(int bits, QuantScheme scheme, bool clipSearch, double minimumCosine, bool quantizeEmbeddings = false)
    {
        using var model = ModelIO.Load(fixture.Files.ModelPath, RtnKinds.All);
        var watch = Stopwatch.StartNew();
        new RtnPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder() },
            new RtnOptions { WeightBits = bits, GroupSize = 32, Scheme = scheme, ClipSearch = clipSearch, Embeddings = quantizeEmbeddings });
        double quantizeSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var export = OnnxExporter.Export(model, Path.Combine(_dir, $"rtn{bits}{scheme}{clipSearch}{quantizeEmbeddings}.onnx"), RtnKinds.All);
        double exportSeconds = watch.Elapsed.TotalSeconds;
        var again = OnnxExporter.Export(model, Path.Combine(_dir, $"rtn{bits}{scheme}{clipSearch}{quantizeEmbeddings}-again.onnx"), RtnKinds.All);
        Assert.Equal(export.Sha256, again.Sha256);
        Assert.Equal(bits == 2 ? 25 : 21, export.Opset);

        double ratio = (double)export.CompressedTensorBytes / export.CompressedTheoreticalBytes;
        Assert.True(ratio <= 1.02, $"compressed tensors take {ratio:F4}× theory");

        watch.Restart();
        var verification = OnnxVerifier.Verify(model, export);
        double verifySeconds = watch.Elapsed.TotalSeconds;
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
        Assert.True(verification.SqnrDb > 100, $"BASIC parity against TorchSharp {verification.SqnrDb:F1} dB");
        Assert.Contains("com.microsoft.MatMulNBits", verification.FusedKernels);
        int linears = export.CompressedLayers.Count(l => l.Kind == QuantizedKinds.Linear.Id);
        Assert.Equal(37, linears);
        Assert.Equal(linears, verification.FusedKernelCounts["com.microsoft.MatMulNBits"]);
        // With --embeddings the three Gather tables (word, position, token type) are packed codes too, and nothing
        // large is left in FP32: the file is the compressed tensors' theory plus LayerNorm/bias vectors and the graph.
        Assert.Equal(quantizeEmbeddings ? 3 : 0, export.CompressedLayers.Count(l => l.Kind == QuantizedKinds.Embedding.Id));
        long uncompressed = export.InitializerBytes.Where(kv => !export.CompressedLayers.Any(l => l.Initializers.Contains(kv.Key))).Sum(kv => kv.Value);
        if (quantizeEmbeddings) Assert.True(uncompressed < 1_000_000, $"{uncompressed} bytes of uncompressed initializers remain");

        string tokens = MiniLmReexportFixture.FirstOutput(export.ModelPath);
        double[] cosines, basicCosines;
        using (var ours = new DisposableOutputs(OrtRunner.Run(export.ModelPath, fixture.Inputs, GraphOptimizationLevel.ORT_ENABLE_ALL)))
        using (var embeddings = fixture.Embeddings(ours.Values[tokens]))
            cosines = fixture.Cosines(embeddings);
        using (var ours = new DisposableOutputs(OrtRunner.Run(export.ModelPath, fixture.Inputs, GraphOptimizationLevel.ORT_ENABLE_BASIC)))
        using (var embeddings = fixture.Embeddings(ours.Values[tokens]))
            basicCosines = fixture.Cosines(embeddings);
        output.WriteLine($"rtn {bits}-bit group 32 {scheme}{(clipSearch ? " clip search" : "")}: opset {export.Opset}, file {export.BytesOnDisk} bytes, compressed tensors {export.CompressedTensorBytes} / theory {export.CompressedTheoreticalBytes} ({ratio:F4}×), " +
                         $"{export.CompressedLayers.Count} layers, other initializers {uncompressed} bytes, sha256 {export.Sha256[..16]}…");
        output.WriteLine($"gate: BASIC max abs {verification.MaxAbsError:E2} ({verification.SqnrDb:F1} dB), ALL max abs {verification.OptimizedMaxAbsError:E2} ({verification.OptimizedSqnrDb:F1} dB), " +
                         $"fused [{string.Join(", ", verification.FusedKernelCounts.Select(kv => $"{kv.Key} ({kv.Value})"))}]");
        output.WriteLine($"embedding cosine vs FP32 (ORT_ENABLE_ALL): min {cosines.Min():F5}, mean {cosines.Average():F5}; (BASIC): min {basicCosines.Min():F5}, mean {basicCosines.Average():F5}");
        output.WriteLine($"timings: rtn {quantizeSeconds:F2} s, export {exportSeconds:F2} s, verification {verifySeconds:F2} s");
        Assert.True(cosines.Min() >= minimumCosine, $"{bits}-bit: embedding cosine {cosines.Min():F5} < {minimumCosine}");
        Assert.True(basicCosines.Min() >= minimumCosine, $"{bits}-bit: embedding cosine at BASIC {basicCosines.Min():F5} < {minimumCosine}");
    }

    /// <summary>The 12 layers whose 4-bit quantization alone costs MiniLM the most embedding cosine (asymmetric, group 32;
    /// measured one layer at a time on 20 sentences by <c>dotnet run --project bench/RtnSensitivity -c Release -- mixed
    /// --scheme asymmetric</c>, see bench/README.md): every FFN up-projection and the value/output projections of the
    /// last layers.</summary>
    public static readonly string[] SensitiveLayers =
    [
        "encoder.layer.*.intermediate.dense", "encoder.layer.3.attention.self.value", "encoder.layer.4.attention.self.value",
        "encoder.layer.5.attention.self.value", "encoder.layer.4.output.dense", "encoder.layer.5.output.dense",
        "encoder.layer.5.attention.output.dense",
    ];

    /// <summary>Issue 4's goal (embedding cosine ≥ 0.99 at 4 bits, group 32) is out of reach of every uniform 4-bit grid
    /// on all 37 layers (best measured: asymmetric + clip search, 0.971): each layer sits at the ≈ 21 dB weight SQNR of a
    /// 16-level grid and the loss is spread over all of them. It is reached by mixed precision: asymmetric 4-bit group 32
    /// with the 12 most sensitive layers at 8 bits per channel (6.59 bits per linear weight instead of 5.125) and the
    /// embedding tables at 8 bits per row. Measured: 0.9912 on the bench's 20 sentences (tables FP32); here, through ORT,
    /// 0.99163 (ENABLE_ALL) / 0.99166 (BASIC) on the fixture's 6, a 21,154,148-byte file (FP32: 90.9 MB) at 7.38 bits per
    /// quantized weight, tables included. Floor: the goal, 0.99.</summary>
    [Fact]
    public void MixedPrecisionRtnReachesTheCosineGoal()
    {
        using var model = ModelIO.Load(fixture.Files.ModelPath, RtnKinds.All);
        var report = new ReportBuilder();
        new RtnPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = report },
            new RtnOptions { WeightBits = 4, GroupSize = 32, Scheme = QuantScheme.Asymmetric, Embeddings = true, HighPrecisionLayers = [.. SensitiveLayers, "embeddings.*"] });
        var export = OnnxExporter.Export(model, Path.Combine(_dir, "rtn-mixed.onnx"), RtnKinds.All);
        var verification = OnnxVerifier.Verify(model, export);
        Assert.True(verification.Passed, string.Join("; ", verification.Failures));
        Assert.Equal(37, verification.FusedKernelCounts["com.microsoft.MatMulNBits"]);
        string tokens = MiniLmReexportFixture.FirstOutput(export.ModelPath);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_BASIC })
        {
            using var ours = new DisposableOutputs(OrtRunner.Run(export.ModelPath, fixture.Inputs, level));
            using var embeddings = fixture.Embeddings(ours.Values[tokens]);
            double[] cosines = fixture.Cosines(embeddings);
            output.WriteLine($"mixed rtn at {level}: cosine min {cosines.Min():F5}, mean {cosines.Average():F5}");
            Assert.True(cosines.Min() >= 0.99, $"{level}: embedding cosine {cosines.Min():F5} < 0.99");
        }
        double bitsPerWeight = report.Metrics.Single(m => m.Name == "quantizedBitsPerWeight").Value;
        output.WriteLine($"file {export.BytesOnDisk} bytes, compressed tensors {export.CompressedTensorBytes} / theory {export.CompressedTheoreticalBytes}, " +
                         $"{bitsPerWeight:F3} bits per quantized weight (tables included), gate {verification.SqnrDb:F1} dB");
    }

    /// <summary>Disposes a set of output tensors.</summary>
    private sealed class DisposableOutputs(Dictionary<string, Tensor> values) : IDisposable
    {
        public Dictionary<string, Tensor> Values { get; } = values;

        public void Dispose()
        {
            foreach (var t in Values.Values) t.Dispose();
        }
    }
}
