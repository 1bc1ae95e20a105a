using Compressor.Engine.Generation;
using Compressor.Engine.Models;
using Newtonsoft.Json.Linq;
using Onnx;

namespace Compressor.Host.Tests;

/// <summary>Pre-merge as an export-time decision (<c>compress export --deploy-tokens N</c>, StructuredFFN §3.4): on a
/// tiny Llama whose FFN linears are low-rank at 50 %, the exported decoder holds one MatMul for every layer the
/// output's <c>preMerge</c> calls merged and two for every factored one; above the largest break-even (4097 tokens)
/// every layer stays factored; merged and factored graphs compute the same logits on ONNX Runtime within
/// <see cref="MinimumSqnrDb"/>; and the checkpoint is not touched (its bytes are the same after both exports).</summary>
public sealed class PreMergeExportTests(HostFixture fx) : IClassFixture<HostFixture>
{
    /// <summary>Merged vs factored logits: both are fp32 products of the same factors, differing only in the order of
    /// the sums (float32 rounding, far above 60 dB); a wrong merge (a transposed or missing factor) gives about 0 dB.</summary>
    private const double MinimumSqnrDb = 60;

    private (string Checkpoint, string Text) LowRankLlama()
    {
        string dir = fx.NewDir("premerge");
        var (dense, text, data) = TinyLlamaInputs.Write(dir);
        string run = Path.Combine(dir, "run");
        var (code, _, stderr) = HostFixture.Cli("run", "sparsity", "--model", dense, "--out", run, "--data", data,
            "--structure", "lowrank", "--fraction", "0.5", "--first-layer-dense", "false", "-v", "q");
        Assert.True(code == 0, stderr);
        return (Path.Combine(run, "compressed.safetensors"), text);
    }

    private static JObject Export(string checkpoint, string onnx, int deployTokens)
    {
        var (code, stdout, stderr) = HostFixture.Cli("export", checkpoint, "--out", onnx, "--deploy-tokens", deployTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        return JObject.Parse(stdout);
    }

    /// <summary>MatMul nodes whose output is named after <paramref name="layer"/> (a lowering names its values
    /// "layer.hint").</summary>
    private static int MatMuls(ModelProto model, string layer) =>
        model.Graph.Node.Count(n => n.OpType == "MatMul" && n.Output.Any(o => o.StartsWith(layer + ".", StringComparison.Ordinal)));

    private static double SqnrDb(float[] reference, float[] actual)
    {
        double signal = 0, noise = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            signal += (double)reference[i] * reference[i];
            noise += ((double)reference[i] - actual[i]) * ((double)reference[i] - actual[i]);
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    [Fact]
    public void TheExportDecidesPerLayerAndTheGraphHoldsThatForm()
    {
        var (checkpoint, _) = LowRankLlama();
        byte[] before = File.ReadAllBytes(checkpoint);
        string dir = Path.GetDirectoryName(checkpoint)!;
        string decode = Path.Combine(dir, "decode.onnx"), never = Path.Combine(dir, "never.onnx"), recorded = Path.Combine(dir, "recorded.onnx");

        var decodeOut = Export(checkpoint, decode, 1);
        var neverOut = Export(checkpoint, never, PreMergeDecisionMax + 1);
        var recordedOut = Export(checkpoint, recorded, 0);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));

        // The decision is reported per structured layer: the six FFN linears of both blocks.
        var decisions = ((JArray)decodeOut["preMerge"]!["layers"]!).Cast<JObject>().ToList();
        Assert.Equal(6, decisions.Count);
        Assert.Equal(1, (int)decodeOut["preMerge"]!["deployTokens"]!);
        Assert.Equal(decisions.Count(d => (bool)d["merged"]!), (int)decodeOut["preMerge"]!["merged"]!);
        var decodeGraph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(decode));
        foreach (var d in decisions)
        {
            Assert.Equal("lowrank_linear", (string)d["kind"]!);
            Assert.InRange((int)d["breakEvenTokens"]!, 1, PreMergeDecisionMax + 1);
            Assert.Equal((bool)d["merged"]!, 1 < (int)d["breakEvenTokens"]!);
            Assert.Equal((bool)d["merged"]! ? 1 : 2, MatMuls(decodeGraph, (string)d["name"]!));
        }

        // Above every break-even nothing merges; without --deploy-tokens the checkpoint's form (factored) is kept and
        // no decision is reported.
        Assert.Equal(0, (int)neverOut["preMerge"]!["merged"]!);
        var neverGraph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(never));
        var recordedGraph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(recorded));
        Assert.Equal(JTokenType.Null, recordedOut["preMerge"]?.Type ?? JTokenType.Null);
        foreach (var d in decisions)
        {
            Assert.Equal(2, MatMuls(neverGraph, (string)d["name"]!));
            Assert.Equal(2, MatMuls(recordedGraph, (string)d["name"]!));
        }

        // Same logits (prompt, then single-token decoding steps) from the merged and the factored graph.
        using var merged = new OrtDecoder(decode, 1);
        using var factored = new OrtDecoder(never, 1);
        int[] prompt = [3, 1, 4, 1, 5, 9, 2, 6];
        int[][] steps = [prompt, [5], [3], [5], [8]];
        foreach (var tokens in steps)
        {
            double db = SqnrDb(factored.Append(tokens), merged.Append(tokens));
            Assert.True(db >= MinimumSqnrDb, $"merged vs factored logits: {db:F1} dB < {MinimumSqnrDb} dB");
        }
    }

    [Fact]
    public void ANegativeDeployTokenCountIsRefused()
    {
        var (code, _, stderr) = HostFixture.Cli("export", fx.ModelPath, "--out", Path.Combine(fx.NewDir("neg"), "m.onnx"), "--deploy-tokens", "-1", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.StartsWith("error: --deploy-tokens -1", stderr.Trim());
    }

    private const int PreMergeDecisionMax = Compressor.Layers.Structured.PreMergeDecision.MaxTokens;
}
