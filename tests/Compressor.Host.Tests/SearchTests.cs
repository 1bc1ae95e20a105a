using Compressor.Engine.Data;
using Compressor.Host.Plugins;
using Compressor.Host.Search;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress search</c> on the tiny MLP of <see cref="HostFixture"/> with the embedded digits (seconds): the
/// knapsack against brute force, the sensitivity's ordering, the chosen recipe reproducing the model byte for byte, an
/// unmeetable budget, and resuming from the cache.</summary>
[Collection(ThreadCountCollection.Name)]
public sealed class SearchTests(HostFixture fx) : IClassFixture<HostFixture>
{
    // Small menus keep each search to a few seconds: 3 layers × 4 treatments.
    private string[] Search(string outDir, string budget, string keep, params string[] extra) =>
    [
        "search", "--model", fx.ModelPath, "--data", "digits", "--budget", budget, "--keep", keep, "--out", outDir,
        "--bits", "3,4,8", "--groups", "32", "--samples", "64", "--eval-limit", "64", "--max-candidates", "3", "--threads", "1", .. extra,
    ];

    /// <summary>Every tensor of <paramref name="model"/> by name, as its bytes.</summary>
    private static List<(string Name, byte[] Bytes)> TensorBytes(CompressibleModel model) =>
        model.NamedTensors().Select(t => (t.Name, t.Tensor.bytes.ToArray())).ToList();

    private static void AssertBitIdentical(List<(string Name, byte[] Bytes)> before, List<(string Name, byte[] Bytes)> after)
    {
        Assert.Equal(before.Select(b => b.Name), after.Select(a => a.Name));
        for (int i = 0; i < before.Count; i++) Assert.True(before[i].Bytes.SequenceEqual(after[i].Bytes), $"{before[i].Name} changed");
    }

    [Fact]
    public void TheKnapsackMatchesBruteForceAtEveryCapacity()
    {
        // A hand-checkable instance: capacity 5 → layer 0 option 1 (cost 2, damage 1) + layer 1 option 1 (cost 3, damage 1) = 2,
        // better than the greedy-by-ratio pick.
        var hand = new List<IReadOnlyList<(long, double)>>
        {
            new List<(long, double)> { (4, 0), (2, 1), (1, 5) },
            new List<(long, double)> { (4, 0), (3, 1), (1, 4) },
        };
        var k = new MultipleChoiceKnapsack(hand, 8);
        Assert.Equal(2, k.BestDamage(5));
        Assert.Equal([1, 1], k.Solution(5)!);
        Assert.Equal(double.PositiveInfinity, k.BestDamage(1));
        Assert.Null(k.Solution(1));
        Assert.Equal(0, k.BestDamage(8));

        var rng = new Random(7);
        for (int instance = 0; instance < 40; instance++)
        {
            int layers = rng.Next(1, 6);
            var options = Enumerable.Range(0, layers).Select(_ =>
                (IReadOnlyList<(long, double)>)Enumerable.Range(0, rng.Next(1, 5)).Select(_ => ((long)rng.Next(0, 9), Math.Round(rng.NextDouble(), 3))).ToList()).ToList();
            long max = options.Sum(o => o.Max(x => x.Item1));
            var knapsack = new MultipleChoiceKnapsack(options, max);
            for (long c = 0; c <= max; c++)
            {
                double brute = BruteForce(options, c);
                Assert.Equal(brute, knapsack.BestDamage(c), 9);
                if (knapsack.Solution(c) is { } s)
                {
                    Assert.True(knapsack.CostOf(s) <= c);
                    Assert.Equal(brute, s.Select((j, l) => options[l][j].Item2).Sum(), 9);
                }
            }
            // The frontier is strictly improving and each point is the optimum at its cost.
            var frontier = knapsack.Frontier();
            for (int i = 1; i < frontier.Count; i++)
            {
                Assert.True(frontier[i].Cost > frontier[i - 1].Cost && frontier[i].Damage < frontier[i - 1].Damage);
                Assert.Equal(BruteForce(options, frontier[i].Cost), frontier[i].Damage, 9);
            }
        }
    }

    private static double BruteForce(IReadOnlyList<IReadOnlyList<(long Cost, double Damage)>> options, long capacity)
    {
        double best = double.PositiveInfinity;
        void Walk(int l, long cost, double damage)
        {
            if (cost > capacity) return;
            if (l == options.Count) { best = Math.Min(best, damage); return; }
            foreach (var (c, d) in options[l]) Walk(l + 1, cost + c, damage + d);
        }
        Walk(0, 0, 0);
        return best;
    }

    [Fact]
    public void SensitivityFallsWithMoreBitsAndTheFisherEstimateRanksLikeTheMeasurement()
    {
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.Build(["rtn"], [2, 4, 8], [32], catalog);
        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var keep = KeepSpec.Parse("cosine>=0.9");
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, 128, keep, TorchSharp.torch.CPU);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        string work = fx.NewDir("sensitivity");
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, work);
        using var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance);
        var measured = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "m.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Measured, keep, 64, 0, CancellationToken.None);
        var fisher = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "f.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Fisher, keep, 128, 0, CancellationToken.None);
        double D(IEnumerable<LayerTrial> t, string layer, string id) => t.Single(x => x.Layer == layer && x.Treatment == id).Damage;
        foreach (var l in layers)
        {
            // Each fewer bit costs about 6 dB of weight SQNR: the damage must rise strictly as the bits fall, in both.
            foreach (var t in new[] { measured, fisher })
            {
                Assert.True(D(t, l.Name, "rtn-w2-g32") > D(t, l.Name, "rtn-w4-g32"), $"{l.Name}: 2-bit should damage more than 4-bit");
                Assert.True(D(t, l.Name, "rtn-w4-g32") > D(t, l.Name, "rtn-w8-g32"), $"{l.Name}: 4-bit should damage more than 8-bit");
                Assert.Equal(0, D(t, l.Name, "fp32"));
            }
            // Bits are what the layer stores: 2-bit g32 asymmetric = 2 + (32 + 2)/32 bits per weight.
            Assert.Equal(l.Weights * (2 + 34.0 / 32), measured.Single(x => x.Layer == l.Name && x.Treatment == "rtn-w2-g32").Bits, 0);
        }
        // Across all layer × treatment pairs the second-order estimate ranks the damages like the measurement
        // (Spearman ρ ≥ 0.8: it is an estimate, not the measurement; an estimate that ranked at random gives ρ ≈ 0).
        var pairs = measured.Where(m => m.Treatment != "fp32").Select(m => (M: m.Damage, F: D(fisher, m.Layer, m.Treatment))).ToList();
        Assert.True(Spearman(pairs.Select(p => p.M).ToArray(), pairs.Select(p => p.F).ToArray()) >= 0.8);
    }

    [Fact]
    public void TrialsLeaveTheModelsWeightsBitIdenticalAndMatchTheWholeModelRun()
    {
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.Build(["rtn", "gptq"], [3], [32], catalog);
        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var keep = KeepSpec.Parse("cosine>=0.9");
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, 64, keep, TorchSharp.torch.CPU);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        var before = TensorBytes(model);
        string work = fx.NewDir("trial-restore");
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, work);
        using var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance);
        var result = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "m.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Measured, keep, 64, 0, CancellationToken.None);
        // Every trial changed the model's outputs while it ran (damage > 0) and put every tensor back bit for bit.
        Assert.All(result.Where(t => t.Treatment != "fp32"), t => Assert.True(t.Damage > 0, $"{t.Layer} {t.Treatment}"));
        AssertBitIdentical(before, TensorBytes(model));
        // One run per gptq treatment (plain and act-order) served all layers; each rtn trial (3-bit g32 and 8-bit per
        // channel) ran on its layer alone.
        Assert.Equal(2, treatments.Count(t => t.Plugin == "gptq"));
        Assert.Equal(2 + 2 * layers.Count, weights.PluginRuns);
        // The single-layer rtn run gives exactly the weight (and bits) the plugin gives inside the whole model.
        var rtn = treatments.Single(t => t.Id == "rtn-w3-g32");
        foreach (var l in layers)
        {
            using var whole = trials.Apply([(rtn, [l.Name])], CancellationToken.None);
            var layer = (Compressor.Sdk.Layers.ICompressedLayer)whole.GetLayer(l.Name);
            using var expected = layer.DenseWeight();
            using var alone = weights.Of(l, rtn, CancellationToken.None)!;
            Assert.Equal(layer.WeightStorageBits, alone.Bits);
            Assert.True(expected.to_type(TorchSharp.torch.ScalarType.Float32).equal(alone.Dense).all().item<bool>(), $"{l.Name}: the single-layer run differs");
        }
    }

    [Fact]
    public void CodebookAndLowRankTrialsMeasureWhatTheTreatedModelComputes()
    {
        // jlcm and sparsity run on a copy of the whole model with one layer selected (TrialScope.Model). JLCM folds its row
        // permutation into the consumer's input columns, so the layer's weight alone does not stand for it: each trial's
        // damage must be that of the treated copy itself (it was not: swapping the permuted weight alone into the input
        // model measured jlcm-w2 on the first layer at cosine 0.46, while the treated model kept 0.997).
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.Build(["jlcm", "sparsity"], [3], [32], catalog);
        Assert.Equal(["lowrank-0.25", "lowrank-0.5", "jlcm-w2", "jlcm-w3", "fp32"], treatments.Select(t => t.Id));
        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var keep = KeepSpec.Parse("cosine>=0.9");
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, 64, keep, TorchSharp.torch.CPU);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        string work = fx.NewDir("trial-model-scope");
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, work);
        using var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance);
        var result = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "m.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Measured, keep, 64, 0, CancellationToken.None);
        int changedElsewhere = 0;
        foreach (var t in result.Where(t => t.Treatment != "fp32"))
        {
            var treatment = treatments.Single(x => x.Id == t.Treatment);
            using var copy = weights.TreatedModel(layers.Single(l => l.Name == t.Layer), treatment, CancellationToken.None)!;
            if (TreatedWeights.ChangedElsewhere(model, copy, t.Layer)) changedElsewhere++;
            var (metric, damage) = evaluator.Measure(copy);
            Assert.True(Math.Abs(damage - t.Damage) <= 1e-5 + 1e-4 * Math.Abs(damage), $"{t.Treatment} on {t.Layer}: the trial's damage {t.Damage:G4}, the treated model's {damage:G4} (metric {metric:G5})");
        }
        Assert.True(result.Count(t => t.Treatment.StartsWith("jlcm", StringComparison.Ordinal)) >= layers.Count, "jlcm applies to every linear");
        Assert.True(result.Any(t => t.Treatment.StartsWith("lowrank", StringComparison.Ordinal)), "low-rank applies somewhere");
        Assert.True(changedElsewhere > 0, "no jlcm trial folded a permutation into another layer: the case this test guards is gone");
    }

    [Fact]
    public void W8A8TrialsFromOneRunMeasureWhatASingleLayerRecipeStepComputes()
    {
        // The speed menu's W8A8 treatments (static: calibrated input grid; dynamic per token) run once over all linears
        // (TrialScope.Joint), and each trial puts that run's integer module into the input model in place of the float
        // layer. Each trial's metric must be that of a copy treated by a recipe step selecting that layer alone (what
        // the trials measured before: one calibrated copy per trial), and the input model must come back bit for bit.
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.BuildForSpeed(["rtn"], catalog);
        Assert.All(treatments.Where(t => t.QuantizesInputs), t => Assert.Equal(TrialScope.Joint, t.Scope));
        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var keep = KeepSpec.Parse("cosine>=0.9");
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, 64, keep, TorchSharp.torch.CPU);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        var before = TensorBytes(model);
        string work = fx.NewDir("w8a8-joint");
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, work);
        using var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance);
        var result = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "m.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Fisher, keep, 64, 0, CancellationToken.None);
        Assert.Equal(2, weights.PluginRuns);   // one run per W8A8 scheme, not one per layer and scheme
        AssertBitIdentical(before, TensorBytes(model));
        var w8a8 = result.Where(t => treatments.Single(x => x.Id == t.Treatment).QuantizesInputs).ToList();
        Assert.Equal(2 * layers.Count, w8a8.Count);
        foreach (var t in w8a8)
        {
            Assert.Equal("measured", t.Source);
            Assert.True(t.Damage > 0, $"{t.Layer} {t.Treatment}: quantizing the input changed nothing");
            using var copy = weights.TreatedModel(layers.Single(l => l.Name == t.Layer), treatments.Single(x => x.Id == t.Treatment), CancellationToken.None)!;
            var (metric, damage) = evaluator.Measure(copy);
            Assert.Equal(TrialRunner.WeightBits(copy, t.Layer), t.Bits);
            // The same module computes the same outputs: equal up to the order the evaluation sums in (none here: 1e-12).
            Assert.True(Math.Abs(damage - t.Damage) <= 1e-12, $"{t.Treatment} on {t.Layer}: the trial's damage {t.Damage:G6}, the single-layer copy's {damage:G6} (metric {metric:G6})");
        }
    }

    [Fact]
    public void TheEstimateSeesWhatGptqCompensates()
    {
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.Build(["rtn", "gptq"], [3], [32], catalog);
        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var keep = KeepSpec.Parse("cosine>=0.9");
        using var evaluator = new InProcessEvaluator(model, data.Evaluation, 128, keep, TorchSharp.torch.CPU);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        string work = fx.NewDir("kfac");
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, work);
        using var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance);
        var measured = new SensitivityAnalysis(weights, evaluator, NullPluginLogger.Instance, NullProgressReporter.Instance, Path.Combine(work, "m.jsonl"))
            .Run(model, layers, treatments, SensitivityMode.Measured, keep, 128, 0, CancellationToken.None);
        var fisher = FisherInformation.Diagonals(model, layers, evaluator, keep, 128, 0, CancellationToken.None);
        try
        {
            var gptq = treatments.Single(t => t.Id == "gptq-w3-g32");
            var rtn = treatments.Single(t => t.Id == "rtn-w3-g32");
            int agree = 0, diagonalAgrees = 0, compared = 0;
            foreach (var l in layers)
            {
                double M(Treatment t) => measured.Single(x => x.Layer == l.Name && x.Treatment == t.Id).Damage;
                using var g = weights.Of(l, gptq, CancellationToken.None)!;
                using var r = weights.Of(l, rtn, CancellationToken.None)!;
                var w = WeightSwap.WeightOf(model, l.Name);
                var f = fisher[l.Name];
                var diagonal = new LayerFisher(f.Diagonal, null);
                bool gptqBetter = M(gptq) < M(rtn);
                compared++;
                if ((FisherInformation.Damage(f, w, g.Dense) < FisherInformation.Damage(f, w, r.Dense)) == gptqBetter) agree++;
                if ((FisherInformation.Damage(diagonal, w, g.Dense) < FisherInformation.Damage(diagonal, w, r.Dense)) == gptqBetter) diagonalAgrees++;
            }
            Assert.True(agree == compared, $"the Kronecker-factored estimate ranks gptq against rtn like the measurement on {agree}/{compared} layers (the diagonal alone: {diagonalAgrees})");
        }
        finally
        {
            foreach (var f in fisher.Values) f.Dispose();
        }
    }

    private static double Spearman(double[] a, double[] b)
    {
        double[] Rank(double[] x) { var order = x.Select((v, i) => (v, i)).OrderBy(p => p.v).ToArray(); var r = new double[x.Length]; for (int k = 0; k < order.Length; k++) r[order[k].i] = k; return r; }
        var ra = Rank(a); var rb = Rank(b);
        double ma = ra.Average(), mb = rb.Average();
        double cov = ra.Zip(rb).Sum(p => (p.First - ma) * (p.Second - mb));
        return cov / Math.Sqrt(ra.Sum(x => (x - ma) * (x - ma)) * rb.Sum(x => (x - mb) * (x - mb)));
    }

    [Fact]
    public void TheMenuOffersGptqWithActOrderAndItsRecipeReproduces()
    {
        var catalog = PluginCatalog.Discover(PluginCatalog.SearchPath([]));
        var treatments = TreatmentMenu.Build(["gptq"], [4, 8], [64, 128], catalog);
        // Stable ids: GPTQ as before (no actOrder key, so earlier recipes and caches keep their bytes), then its act-order twin.
        Assert.Equal(["gptq-w4-g64", "gptq-w4-g64-act", "gptq-w4-g128", "gptq-w4-g128-act", "fp32"], treatments.Select(t => t.Id));
        Assert.Null(treatments[0].Options["actOrder"]);
        Assert.True((bool)treatments[1].Options["actOrder"]!);
        Assert.All(treatments.Where(t => !t.IsFp32), t => Assert.Equal(TrialScope.Joint, t.Scope));

        using var data = DataSources.Open("digits", 0);
        using var model = HostFixture.Load(fx.ModelPath);
        var layers = model.Select(LayerType.Linear, LayerSelector.All).Select(l => new SearchLayer(l.Name, "linear", l.WeightShape, l.WeightCount)).ToList();
        var plain = treatments.Single(t => t.Id == "gptq-w4-g64");
        var act = treatments.Single(t => t.Id == "gptq-w4-g64-act");
        // The option reaches the plugin: act-order changes the codes of a layer with more than one column to reorder.
        var trials = new TrialRunner(model, catalog, new PluginData(data.Train, data.Calibration, data.Evaluation), TorchSharp.torch.CPU, 0, fx.NewDir("act-trials"));
        using (var weights = new TreatedWeights(trials, model, layers, NullPluginLogger.Instance))
        {
            using var a = weights.Of(layers[0], act, CancellationToken.None)!;
            using var p = weights.Of(layers[0], plain, CancellationToken.None)!;
            Assert.Equal(p.Bits, a.Bits);
            Assert.False(a.Dense.equal(p.Dense).all().item<bool>(), "act-order left the first layer's weight as plain GPTQ does");
        }
        // A recipe mixing the two (and a float32 layer) runs, and runs again to the same bytes.
        string recipe = Path.Combine(fx.NewDir("act-recipe"), "recipe.json");
        File.WriteAllText(recipe, RecipeText.Of([(layers[0].Name, act), (layers[1].Name, plain), (layers[2].Name, Treatment.Fp32)], 0, "size"));
        var runs = new List<string>();
        foreach (var name in new[] { "act-run-1", "act-run-2" })
        {
            string outDir = fx.NewDir(name);
            var (code, _, stderr) = HostFixture.Cli("run", recipe, "--model", fx.ModelPath, "--data", "digits", "--eval-limit", "64", "--out", outDir, "-v", "q");
            Assert.True(code == 0, stderr);
            runs.Add(outDir);
        }
        Assert.Contains("\"actOrder\": true", File.ReadAllText(Path.Combine(runs[0], "recipe.json")));
        foreach (var f in new[] { "model.onnx", "compressed.safetensors", "recipe.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(runs[0], f)).SequenceEqual(File.ReadAllBytes(Path.Combine(runs[1], f))), $"{f} differs");
    }

    [Fact]
    public void TheChosenRecipeReproducesTheModelByteForByte()
    {
        string outDir = fx.NewDir("search-min");
        var (code, stdout, stderr) = HostFixture.Cli(Search(outDir, "bits=min", "cosine>=0.995", "--format", "json", "-v", "q"));
        Assert.True(code == 0, stderr);
        var json = JObject.Parse(stdout);
        var search = (JObject)json["search"]!;
        string chosen = (string)search["chosen"]!;
        var candidate = ((JArray)search["candidates"]!).Single(c => (string)c["id"]! == chosen);
        Assert.True((double)candidate["ortMetric"]! >= 0.995);
        Assert.True((double)candidate["bitsPerWeight"]! < 32);
        foreach (var f in new[] { "recipe.json", "model.onnx", "compressed.safetensors", "report.json", "search.json", "search.md", "search.html" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.Contains("data:image/png;base64,", File.ReadAllText(Path.Combine(outDir, "search.html")));
        // The per-layer table names a treatment and a reason for every searched layer.
        Assert.Equal(3, ((JArray)search["layers"]!).Count);

        string rerun = fx.NewDir("search-rerun");
        var (code2, _, stderr2) = HostFixture.Cli("run", Path.Combine(outDir, "recipe.json"), "--model", fx.ModelPath, "--data", "digits", "--eval-limit", "64", "--out", rerun, "-v", "q");
        Assert.True(code2 == 0, stderr2);
        foreach (var f in new[] { "model.onnx", "compressed.safetensors", "recipe.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(outDir, f)).SequenceEqual(File.ReadAllBytes(Path.Combine(rerun, f))), $"{f} differs");
    }

    [Fact]
    public void ABudgetThatCannotKeepTheMetricIsOneLineAndWritesNothing()
    {
        string outDir = fx.NewDir("search-infeasible");
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "previous");
        // 4.2 bits/weight allows only 3-bit g32 layers (4.09 bits/weight with scales and zero points); cosine 0.99999 needs far more.
        var (code, _, stderr) = HostFixture.Cli(Search(outDir, "bits=4.2", "cosine>=0.99999", "-v", "q"));
        Assert.Equal((int)ExitCode.BudgetNotMet, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        var m = System.Text.RegularExpressions.Regex.Match(lines[0], @"^error: search: no model meets --budget bits=4\.2 with --keep cosine>=0\.99999; the best point reached: cosine (0\.\d+) on ONNX Runtime at (\d\.\d+) bits/weight");
        Assert.True(m.Success, lines[0]);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 0.99999);
        Assert.True(double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) <= 4.2);
        Assert.Equal(["keep.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Equal("previous", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(outDir, ".work", "search.json")), "the attempt's report stays in the work folder");
    }

    [Fact]
    public void TrialsOnASubsetSayHowManySamplesTheyUsed()
    {
        string outDir = fx.NewDir("search-subset");
        var (code, stdout, stderr) = HostFixture.Cli(Search(outDir, "bits=min", "cosine>=0.99", "--sensitivity", "measured", "--trial-samples", "16", "--format", "json", "-v", "q"));
        Assert.True(code == 0, stderr);
        var search = (JObject)JObject.Parse(stdout)["search"]!;
        Assert.EndsWith("layer trials on the first 16 of the 64 samples (--trial-samples)", (string)search["sensitivity"]!["reason"]!);
        Assert.Equal(64, (long)search["sensitivity"]!["samples"]!);   // the frontier's in-process points: all of --samples
        // Measured on 16 samples, the trials' metrics differ from those of a search measuring them on all 64.
        string full = fx.NewDir("search-subset-full");
        var (code2, stdout2, stderr2) = HostFixture.Cli(Search(full, "bits=min", "cosine>=0.99", "--sensitivity", "measured", "--format", "json", "-v", "q"));
        Assert.True(code2 == 0, stderr2);
        Assert.NotEqual(search["sensitivity"]!["trials"]!.ToString(), JObject.Parse(stdout2)["search"]!["sensitivity"]!["trials"]!.ToString());
    }

    [Fact]
    public void ASecondSearchReadsTheCacheInsteadOfRunningAgain()
    {
        string outDir = fx.NewDir("search-resume");
        var (code, out1, err1) = HostFixture.Cli(Search(outDir, "bits=min", "cosine>=0.99", "--format", "json", "-v", "q"));
        Assert.True(code == 0, err1);
        var (code2, out2, err2) = HostFixture.Cli(Search(outDir, "bits=min", "cosine>=0.99", "--format", "json", "-v", "n"));
        Assert.True(code2 == 0, err2);
        Assert.Contains("layer trials reused", err2);
        Assert.DoesNotContain("step 1/", err2);   // no plugin step of the run pipeline ran: every candidate came from the cache
        var first = (JObject)JObject.Parse(out1)["search"]!;
        var second = (JObject)JObject.Parse(out2)["search"]!;
        Assert.Equal((string)first["chosen"]!, (string)second["chosen"]!);
        Assert.All(((JArray)second["candidates"]!).Where(c => c["ortMetric"] is not null), c => Assert.True((bool)c["cached"]!));
        Assert.Equal(first["sensitivity"]!["trials"]!.ToString(), second["sensitivity"]!["trials"]!.ToString());
    }

    // --budget latency: the tiny MLP's three linears ([128, 64], [64, 128], [10, 64]) at 64 rows (the digits latency batch).
    private static readonly (long Out, long In)[] MlpShapes = [(128, 64), (64, 128), (10, 64)];

    /// <summary>Writes a latency table into OUT/.work's cache as the profiler would, so the search times nothing: every
    /// layer costs <paramref name="fp32"/> ms in FP32, the W8A8 treatments their factor of it; the model <paramref name="modelMs"/>.</summary>
    private void InjectLatencies(string outDir, double fp32, double staticFactor, double dynamicFactor, double modelMs)
    {
        var treatments = TreatmentMenu.BuildForSpeed(["rtn"], PluginCatalog.Discover(PluginCatalog.SearchPath([])));
        var entries = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (o, i) in MlpShapes)
            foreach (var t in treatments)
                entries[LatencyProfiler.EntryKey(o, i, 64, t)] = fp32 * (t.Id switch { "rtn-w8a8-static" => staticFactor, "rtn-w8a8-dynamic" => dynamicFactor, _ => 1 });
        entries[LatencyProfiler.ModelKey(Compressor.Host.Results.InputFile.Of(fx.ModelPath).Sha256, 64)] = modelMs;
        string file = Path.Combine(outDir, ".work", "latency", LatencyProfiler.MachineKey(1) + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, Newtonsoft.Json.JsonConvert.SerializeObject(new LatencyProfiler.CacheContent("test", entries)));
    }

    private static string[] OneCandidate(string[] args)
    {
        var list = args.ToList();
        list[list.IndexOf("--max-candidates") + 1] = "1";
        return [.. list];
    }

    [Fact]
    public void TheLatencyTableIsMeasuredOnceAndCached()
    {
        string outDir = fx.NewDir("search-latency-table");
        string[] args = OneCandidate(Search(outDir, "latency=min", "cosine>=0.99", "--target", "speed", "--format", "json", "-v", "n"));
        var (code, stdout, stderr) = HostFixture.Cli(args);
        Assert.True(code == 0, stderr);
        var latency = (JObject)JObject.Parse(stdout)["search"]!["latency"]!;
        // Every searched layer has its rows and a time for FP32 and both W8A8 forms (what the times are is the machine's business: not asserted).
        var layers = (JArray)latency["layers"]!;
        Assert.Equal(3, layers.Count);
        foreach (var l in layers)
        {
            Assert.Equal(64, (long)l["rows"]!);
            var ms = (JObject)l["milliseconds"]!;
            Assert.Equal(["fp32", "rtn-w8a8-dynamic", "rtn-w8a8-static"], ms.Properties().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.All(ms.Properties(), p => Assert.True((double)p.Value > 0));
        }
        Assert.True((double)latency["modelMs"]! > 0);
        Assert.Equal(0, (int)latency["cached"]!);
        string cache = Path.Combine(outDir, ".work", "latency", LatencyProfiler.MachineKey(1) + ".json");
        var entries = (JObject)JObject.Parse(File.ReadAllText(cache))["Entries"]!;
        Assert.Equal(3 * 3 + 1, entries.Count);   // 3 shapes × 3 treatments, and the model

        // A second search on this machine times nothing: the table comes from the cache, unchanged.
        var (code2, stdout2, stderr2) = HostFixture.Cli(args);
        Assert.True(code2 == 0, stderr2);
        Assert.Contains("(0 timed now, 10 from", stderr2);
        var again = (JObject)JObject.Parse(stdout2)["search"]!["latency"]!;
        Assert.Equal(10, (int)again["cached"]!);
        Assert.Equal(latency["layers"]!.ToString(), again["layers"]!.ToString());
    }

    [Fact]
    public void GivenALatencyTableTheAllocationIsDeterministicAndTheRecipeReproducesTheModel()
    {
        string[] Args(string dir) => OneCandidate(Search(dir, "latency=min", "cosine>=0.99", "--target", "speed", "--format", "json", "-v", "q"));
        var runs = new List<(string Dir, JObject Search)>();
        foreach (string name in new[] { "search-latency-a", "search-latency-b" })
        {
            string dir = fx.NewDir(name);
            // Static W8A8 at half the FP32 time, dynamic at 0.8; 1 ms per FP32 layer, the model 4 ms (remainder 1 ms).
            InjectLatencies(dir, 1.0, 0.5, 0.8, 4.0);
            var (code, stdout, stderr) = HostFixture.Cli(Args(dir));
            Assert.True(code == 0, stderr);
            runs.Add((dir, (JObject)JObject.Parse(stdout)["search"]!));
        }
        var (a, b) = (runs[0].Search, runs[1].Search);
        Assert.Equal(10, (int)a["latency"]!["cached"]!);
        Assert.Equal(1.0, (double)a["latency"]!["remainderMs"]!, 9);
        // The same frontier, the same predicted latencies, the same choice.
        Assert.Equal(a["candidates"]!.Select(c => (string)c["id"]!), b["candidates"]!.Select(c => (string)c["id"]!));
        Assert.Equal(a["candidates"]!.Select(c => (double)c["predictedLatency"]!), b["candidates"]!.Select(c => (double)c["predictedLatency"]!));
        Assert.Equal((string)a["chosen"]!, (string)b["chosen"]!);
        // Predicted latencies follow the injected table: (remainder + Σ layer ms) / model ms, static W8A8 everywhere is the fastest (0.625).
        Assert.Equal(0.625, a["candidates"]!.Min(c => (double)c["predictedLatency"]!), 6);
        var chosen = a["candidates"]!.Single(c => (string)c["id"]! == (string)a["chosen"]!);
        Assert.True((double)chosen["ortMetric"]! >= 0.99);
        Assert.NotNull(chosen["speedUp"]);
        Assert.All((JArray)a["layers"]!, l => Assert.NotNull(l["milliseconds"]));
        Assert.Equal(File.ReadAllBytes(Path.Combine(runs[0].Dir, "recipe.json")), File.ReadAllBytes(Path.Combine(runs[1].Dir, "recipe.json")));
        Assert.Equal("speed", (string)JObject.Parse(File.ReadAllText(Path.Combine(runs[0].Dir, "recipe.json")))["target"]!);
        Assert.Contains("data:image/png;base64,", File.ReadAllText(Path.Combine(runs[0].Dir, "search.html")));

        string rerun = fx.NewDir("search-latency-rerun");
        var (code2, _, stderr2) = HostFixture.Cli("run", Path.Combine(runs[0].Dir, "recipe.json"), "--model", fx.ModelPath, "--data", "digits", "--eval-limit", "64", "--out", rerun, "-v", "q");
        Assert.True(code2 == 0, stderr2);
        foreach (var f in new[] { "model.onnx", "compressed.safetensors", "recipe.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(runs[0].Dir, f)).SequenceEqual(File.ReadAllBytes(Path.Combine(rerun, f))), $"{f} differs");
    }

    [Fact]
    public void ALatencyBudgetThatCannotBeMetIsOneLineNamingTheBestPointAndWritesNothing()
    {
        string outDir = fx.NewDir("search-latency-infeasible");
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "previous");
        // The fastest allocation (static W8A8 everywhere) is predicted at (1 + 3 × 0.5) / 4 = 0.625 of the FP32 latency: 0.3x cannot be met.
        InjectLatencies(outDir, 1.0, 0.5, 0.8, 4.0);
        var (code, _, stderr) = HostFixture.Cli(Search(outDir, "latency=0.3x", "cosine>=0.99", "--target", "speed", "-v", "q"));
        Assert.Equal((int)ExitCode.BudgetNotMet, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Equal("error: search: no model meets --budget latency=0.3x: the fastest allocation of the treatments is predicted at 0.625× the FP32 latency (the best point reached: none within the budget)", lines[0]);
        Assert.Equal(["keep.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Equal("previous", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
    }

    [Theory]
    [InlineData("--budget", "latency=0.5x", "error: --budget latency=…: latency is measured on the speed export; add --target speed")]
    [InlineData("--budget", "bits=lots", "error: --budget 'bits=lots': bits per weight must be a number in 1..32 or min")]
    [InlineData("--keep", "cosine>0.9", "error: --keep 'cosine>0.9': expected METRIC>=X or METRIC<=X")]
    [InlineData("--keep", "f1>=0.9", "error: --keep 'f1>=0.9': unknown metric 'f1'")]
    [InlineData("--methods", "statsq", "error: --methods statsq: StatsQ is quantization-aware training")]
    [InlineData("--trial-samples", "0", "error: --trial-samples 0 must be at least 1")]
    public void BadSearchOptionsExitTwo(string option, string value, string message)
    {
        string outDir = fx.NewDir("search-bad");
        var args = Search(outDir, "bits=min", "cosine>=0.99", "-v", "q").ToList();
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var (code, _, stderr) = HostFixture.Cli([.. args]);
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.StartsWith(message, stderr.Trim());
        Assert.Empty(Directory.GetFiles(outDir));
    }
}
