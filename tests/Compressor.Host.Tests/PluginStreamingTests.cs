using System.Security.Cryptography;
using Compressor.Engine.Tests.Support;
using Compressor.Host.Commands;
using Compressor.Host.Pipeline;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>jlcm, sparsity's from-dense fit and WINA/TEAL streamed block by block (<c>--stream on</c>) over the tiny
/// Llama and GPT-2 folders of <see cref="StreamingTests"/>: the same layers as the run that holds the whole model —
/// the same bytes where the work on a layer depends only on its weight (the fit, the uniform allocation), within a
/// named tolerance where it depends on calibration activations (jlcm) — one block live at a time, and the modes that
/// need the whole model refused with their reason.</summary>
public sealed class PluginStreamingTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private (string Model, string Data) Inputs(string family)
    {
        string dir = Path.Combine(fx.NewDir("pstream-" + family), family);
        var config = family == "llama" ? DecoderFolder.TinyLlamaForTests() : DecoderFolder.TinyGpt2ForTests();
        config["vocab_size"] = 256;   // the char tokenizer's ids
        DecoderFolder.Write(dir, config, ScalarType.BFloat16, shardBytes: 60_000);
        string text = Path.Combine(fx.NewDir("pstream-text-" + family), "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse. ", 40)));
        return (dir, $"text:{text},tokenizer=char,context=16,calibration=24");
    }

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Runs <paramref name="plugin"/> with <paramref name="options"/> whole and streamed; returns both output folders.</summary>
    private (string Whole, string Streamed) Both(string family, string plugin, params string[] options)
    {
        var (model, data) = Inputs(family);
        string whole = fx.NewDir($"{plugin}-whole-{family}"), streamed = fx.NewDir($"{plugin}-streamed-{family}");
        foreach (var (dir, mode) in new[] { (whole, "off"), (streamed, "on") })
        {
            var (code, _, err) = HostFixture.Cli(["run", plugin, "--model", model, "--out", dir, "--data", data, "--stream", mode, "-v", "q", .. options]);
            Assert.True(code == 0, $"--stream {mode}: {err}");
        }
        var metrics = Metrics(streamed);
        Assert.Equal(1, metrics["streamedPeakLiveBlocks"]);   // never two blocks in memory
        Assert.Equal(3, metrics["streamedBlocks"]);
        return (whole, streamed);
    }

    private static Dictionary<string, double> Metrics(string dir) =>
        ((JArray)JObject.Parse(File.ReadAllText(Path.Combine(dir, RunPipeline.ReportFile)))["metrics"]!).ToDictionary(m => (string)m["name"]!, m => (double)m["value"]!);

    [Theory]
    [InlineData("llama", "lowrank")]
    [InlineData("gpt2", "lowrank")]
    [InlineData("llama", "blockdense")]
    [InlineData("gpt2", "blockshuffle")]
    public void StreamedFromDenseFitWritesTheBytesOfTheWholeModelRun(string family, string structure)
    {
        // The fit is each linear's own SVD problem on its own weight: block by block it is the same computation on the
        // same bytes, and --first-layer-dense keeps block 0 dense in both runs (it is named by its number).
        var (whole, streamed) = Both(family, "sparsity", "--structure", structure, "--fraction", "0.5");
        Assert.Equal(Sha(Path.Combine(whole, RunPipeline.CheckpointFile)), Sha(Path.Combine(streamed, RunPipeline.CheckpointFile)));
        using var model = HostFixture.Load(Path.Combine(streamed, RunPipeline.CheckpointFile));
        var names = model.CompressedLayers().Select(l => l.Name).ToList();
        Assert.NotEmpty(names);
        Assert.DoesNotContain(names, n => n.Contains(".0.", StringComparison.Ordinal));   // the first block stays dense
        var (a, b) = (Metrics(whole), Metrics(streamed));
        Assert.Equal(a["structuredWeightFraction"], b["structuredWeightFraction"], 9);
        Assert.Equal(a["structuredWeights"], b["structuredWeights"]);
    }

    [Theory]
    [InlineData("llama", "wina")]
    [InlineData("gpt2", "teal")]
    public void StreamedActivationSparsityWithTheUniformAllocationWritesTheBytesOfTheWholeModelRun(string family, string score)
    {
        // A uniform allocation gives every linear the target itself; the mask keeps a count of inputs fixed by the
        // linear's width, so the layers do not depend on the calibration activations (only the reported error does).
        var (whole, streamed) = Both(family, "sparsity", "--structure", "none", "--activation-sparsity", score, "--allocation", "uniform", "--sparsity", "0.5");
        Assert.Equal(Sha(Path.Combine(whole, RunPipeline.CheckpointFile)), Sha(Path.Combine(streamed, RunPipeline.CheckpointFile)));
        var (a, b) = (Metrics(whole), Metrics(streamed));
        Assert.Equal(a["targetActivationSparsity"], b["targetActivationSparsity"], 9);
        // The error is measured on each block's inputs, which the streamed run computes through the already sparsified
        // blocks, as the whole-model run does not (it records every input on the dense model): close, not equal.
        Assert.InRange(b["meanRelativeOutputError"], 0.5 * a["meanRelativeOutputError"], 2 * a["meanRelativeOutputError"]);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void StreamedJlcmMatchesTheWholeModelRun(string family)
    {
        var (whole, streamed) = Both(family, "jlcm", "--weight-bits", "3", "--groups", "4", "--iterations", "20", "--calibration-samples", "16", "--batch-size", "8");
        using var a = HostFixture.Load(Path.Combine(whole, RunPipeline.CheckpointFile));
        using var b = HostFixture.Load(Path.Combine(streamed, RunPipeline.CheckpointFile));
        var layers = a.CompressedLayers();
        Assert.Equal(layers.Select(l => l.Name), b.CompressedLayers().Select(l => l.Name));
        double worst = double.PositiveInfinity;
        foreach (var (name, layer) in layers)
        {
            using var wa = layer.DenseWeight();
            using var wb = ((ICompressedLayer)b.GetLayer(name)).DenseWeight();
            double db = Sqnr.Db(wa, wb);
            worst = Math.Min(worst, db);
            Assert.True(db >= JlcmAgreementDb, $"{name}: whole vs streamed {db:F1} dB");
        }
        var (ma, mb) = (Metrics(whole), Metrics(streamed));
        Assert.Equal(ma["bitsPerWeight"], mb["bitsPerWeight"], 9);
        Assert.Equal(ma["permutationsFolded"], mb["permutationsFolded"]);
    }

    /// <summary>Each layer's input statistics come from activations computed in batches of another composition (the
    /// block's inputs, 8 at a time, against token ids through the whole model), so they differ by float round-off;
    /// joint learning then moves an index across a codeword boundary only where a weight sits within that round-off of
    /// it. 40 dB between the two dequantized weights is far above the 3-bit error itself (about 15 dB), so a layer that
    /// learned from other inputs, another seed or another permutation fails it. (On these fixtures, with one thread, the
    /// two runs' weights were measured identical.)</summary>
    private const double JlcmAgreementDb = 40;

    public static TheoryData<string[], string> WholeModelModes => new()
    {
        { ["--structure", "lowrank", "--recovery-steps", "5"], "plugin 'sparsity': --recovery-steps" },
        { ["--structure", "none", "--activation-sparsity", "wina"], "plugin 'sparsity': --allocation greedy" },
        { ["--structure", "lowrank", "--deploy-tokens", "1"], "--deploy-tokens: a streamed run" },
    };

    [Theory]
    [MemberData(nameof(WholeModelModes))]
    public void ModesThatNeedTheWholeModelAreRefusedWithTheirReason(string[] options, string reason)
    {
        var (model, data) = Inputs("llama");
        string outDir = fx.NewDir("pstream-refused");
        var (code, _, err) = HostFixture.Cli(["run", "sparsity", "--model", model, "--out", outDir, "--data", data, "--stream", "on", "-v", "q", .. options]);
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        var lines = err.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: " + reason, lines[0].Replace("--stream on: ", ""));
        Assert.Empty(Directory.GetFileSystemEntries(outDir));
    }
}
