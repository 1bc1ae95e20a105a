// jlcm benchmark on the real all-MiniLM-L6-v2: sentence-embedding cosine vs FP32 on held-out State of the Union
// sentences, for RTN / k-means-only / JLCM-default / JLCM-proximal at equal index bits.
// Usage: dotnet run --project bench/JlcmBench -c Release -- [bits=2,3] [groups=4] [methods=rtn,kmeans,default,proximal]
//        methods may also name gptq-family rows (rtn-plugin, nearest, awq, gptq, awq-gptq, gptq-act, awq-gptq-act; group size gsize=32,
//        scheme=asymmetric|symmetric) and GPTVQ-initialised jlcm rows (gptvq = initialisation only, jlcm-gptq = then joint learning)
//        [samples=128] [iterations=100] [eval=256] [include=glob,glob] [variant=scales|codebooks] [lr=0.02] [objective=auto|block|layer] [biascorrection=0|1]
//        [header=1|0]   (needs bash bench/fetch-data.sh text)
//        model=resnet18 runs the ResNet18 featurizer benchmark instead (ResNet18Bench.cs).
using System.Globalization;
using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Evaluation;
using Compressor.Sdk.Models;
using Compressor.Engine.Models.Pretrained;
using Compressor.Sdk.Plugins;
using static TorchSharp.torch;

var arg = args.Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a.Length > 1 ? a[1] : "");
string Get(string k, string d) => arg.TryGetValue(k, out var v) ? v : d;
if (Get("model", "minilm") == "resnet18") { ResNet18Bench.Run(Get); return; }
var variant = Enum.Parse<Compressor.Layers.Codebook.CodebookVariant>(Get("variant", "scales"), ignoreCase: true);
double lr = double.Parse(Get("lr", "0.02"), CultureInfo.InvariantCulture);
bool header = Get("header", "1") == "1";
var bitsList = Get("bits", "2,3").Split(',').Select(int.Parse).ToArray();
var groupsList = Get("groups", "4").Split(',').Select(int.Parse).ToArray();
var methods = Get("methods", "rtn,kmeans,default,proximal").Split(',');
int samples = int.Parse(Get("samples", "128"), CultureInfo.InvariantCulture);
int iterations = int.Parse(Get("iterations", "100"), CultureInfo.InvariantCulture);
int evalCount = int.Parse(Get("eval", "256"), CultureInfo.InvariantCulture);
string root = Get("root", ".");
var include = Get("include", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
var objective = Enum.Parse<ReconstructionObjective>(Get("objective", "auto"), ignoreCase: true);
int gsize = int.Parse(Get("gsize", "32"), CultureInfo.InvariantCulture);        // group size of the gptq-family rows
bool symmetric = Get("scheme", "asymmetric") == "symmetric";                      // grid of the gptq-family rows
BenchRun.AwqClip = Enum.Parse<Compressor.Plugins.Gptq.Algorithm.ClipMode>(Get("awqclip", "auto"), ignoreCase: true);
// The sentence source's calibration split holds 64 sentences unless told otherwise: ask for as many as the rows use.
string calibrationSpec = $"sentences:{Path.Combine(root, "bench/data/text/moby-dick.txt")},context=64,calibration={samples}";
string evalSpec = $"sentences:{Path.Combine(root, "bench/data/text/sotu.txt")},context=64";

using var calibration = DataSources.Open(calibrationSpec, seed: 0);
using var evaluation = DataSources.Open(evalSpec, seed: 0);
var evalIds = First(evaluation.Evaluation, evalCount);
var miniLm = PretrainedModels.MiniLm();
string modelPath = miniLm.ModelPath;

// The similarities sentence-transformers publishes for all-MiniLM-L6-v2 (4 decimals): (sentence i, sentence j, cosine).
string[] pairSentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.", "The new movie is awesome", "The new movie is so great"];
(int I, int J, double Cos)[] published = [(0, 1, 0.6660), (0, 2, 0.1046), (1, 2, 0.1411), (3, 4, 0.8939)];
Tensor pairIds;
using (var vocab = File.OpenRead(miniLm.VocabPath))
{
    var tokenizer = Microsoft.ML.Tokenizers.BertTokenizer.Create(vocab, new Microsoft.ML.Tokenizers.BertOptions { LowerCaseBeforeTokenization = true });
    var encoded = pairSentences.Select(x => tokenizer.EncodeToIds(x)).ToList();
    int width = encoded.Max(x => x.Count);
    var flat = new long[encoded.Count * width];
    for (int b = 0; b < encoded.Count; b++)
        for (int i = 0; i < encoded[b].Count; i++) flat[b * width + i] = encoded[b][i];
    pairIds = tensor(flat, [encoded.Count, width]);
}

// The largest deviation of the model's pair similarities from the published ones.
double PairDeviation(CompressibleModel model)
{
    using var scope = NewDisposeScope();
    var e = Embed(model, pairIds);
    var cos = e.matmul(e.t());
    return published.Max(p => Math.Abs(cos[p.I, p.J].item<float>() - p.Cos));
}

Tensor Embed(CompressibleModel model, Tensor? tokens = null)
{
    var source = tokens ?? evalIds;
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    var outs = new List<Tensor>();
    for (long s = 0; s < source.shape[0]; s += 32)
    {
        var ids = source.narrow(0, s, Math.Min(32, source.shape[0] - s));
        long t = Math.Max(1, ids.ne(0).to_type(ScalarType.Int64).mul(arange(1, ids.shape[1] + 1, ScalarType.Int64)).max().item<long>());
        ids = ids.narrow(1, 0, t);
        var mask = ids.ne(0).to_type(ScalarType.Int64);
        var y = model.Run(new Dictionary<string, Tensor> { ["input_ids"] = ids, ["attention_mask"] = mask, ["token_type_ids"] = zeros_like(ids) });
        var states = y[model.OutputNames[0]];
        var m = mask.to_type(ScalarType.Float32).unsqueeze(-1);
        outs.Add(nn.functional.normalize(states.mul(m).sum(1).div(m.sum(1).clamp_min(1e-9)), p: 2, dim: 1));
    }
    return cat(outs, 0).MoveToOuterDisposeScope();
}

Tensor reference;
double fpPairs;
using (var fp = ModelIO.Load(modelPath, BenchRun.Kinds))
{
    reference = Embed(fp);
    fpPairs = PairDeviation(fp);
}
Console.WriteLine($"MiniLM: {evalIds.shape[0]} held-out SOTU sentences, calibration {samples} Moby Dick sentences, {iterations} iterations per layer, index lr {lr}, layers [{string.Join(", ", include)}], published-pair deviation of FP32 {fpPairs:F4}, torch threads {get_num_threads()}, load average {File.ReadAllText("/proc/loadavg").Trim()}");
if (header) Console.WriteLine("| method | bits b | G | variant | bits/weight (stored) | bits/weight (§2.2) | mean cosine | min cosine | ONNX bytes | compression s | peak MiB | ±1 moves | published pairs max abs dev |");
if (header) Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (int bits in bitsList)
    foreach (int groups in groupsList)
        foreach (var method in methods)
        {
            if (method == "rtn" && bits < 2) { Console.WriteLine($"| rtn | {bits} | - | - | (rtn needs 2 to 8 bits) | | | | | | | | |"); continue; }
            bool uniform = BenchRun.GptqFamily.Contains(method);
            var (plugin, options) = uniform
                ? BenchRun.GptqRow(method, bits, gsize, symmetric, samples, include, [])
                : (new JlcmPlugin(), BenchRun.Options(method, bits, groups, variant, lr, samples, iterations) with { Include = include, Objective = objective, BiasCorrection = Get("biascorrection", "0") == "1" });
            var (model, report, seconds, mib) = BenchRun.Compress(modelPath, plugin, options, new PluginData(calibration.Train, calibration.Calibration, null));
            using var _ = model;
            using var emb = Embed(model);
            var cos = emb.mul(reference).sum(1);
            long bytes = BenchRun.OnnxBytes(model);
            double Metric(string n) => report.Metrics.FirstOrDefault(m => m.Name == n)?.Value ?? double.NaN;
            string g = uniform ? $"g{(gsize == 0 ? "row" : gsize)}" : method == "rtn" ? "-" : groups.ToString(CultureInfo.InvariantCulture);
            string v = uniform ? (symmetric ? "uniform sym" : "uniform asym") : method == "rtn" ? "per-row uniform" : variant.ToString().ToLowerInvariant();
            double accounted = uniform ? BenchRun.BitsPerWeight(report) : Metric("accountedBitsPerWeight");
            Console.WriteLine($"| {method} | {bits} | {g} | {v} | {BenchRun.BitsPerWeight(report):F4} | {accounted:F4} | " +
                              $"{cos.mean().item<float>():F4} | {cos.min().item<float>():F4} | {bytes:N0} | {seconds:F1} | {mib:F0} | {(method is "default" or "proximal" or "jlcm-gptq" ? Metric("unitMoveShare").ToString("P1", CultureInfo.InvariantCulture) : "-")} | {PairDeviation(model):F4} |");
            double Sum(string n) => report.Series.FirstOrDefault(x => x.Name == n)?.Y.Sum() ?? 0;
            Console.WriteLine($"#   {method} {bits}-bit G={g} {v}: index moves |Δk|=1 {Sum("indexMoves1"):F0}, 2 {Sum("indexMoves2"):F0}, ≥3 {Sum("indexMoves3Plus"):F0}; " +
                              $"objective {objective}, reconstruction loss Σ {Metric("reconstructionLossInit"):G4} → {Metric("reconstructionLoss"):G4} (relative {Metric("reconstructionRelativeLoss"):P2}); " +
                              $"CPU {BenchRun.LastCpuSeconds:F1} s, gptq loss {Metric("gptqLoss"):G4}, AWQ scaled {Metric("awqScaledLayers")} clipped {Metric("awqClippedLayers")}, dampening increases {Metric("dampeningIncreases")}; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        }

static Tensor First(IDataSet data, int n)
{
    var list = new List<Tensor>();
    long taken = 0;
    foreach (var b in data.Batches(64))
    {
        using (b) { list.Add(b.Input.narrow(0, 0, Math.Min(b.Input.shape[0], n - taken)).clone()); taken += list[^1].shape[0]; }
        if (taken >= n) break;
    }
    return cat(list, 0);
}
