using System.Diagnostics;
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

/// <summary>jlcm on the real ImageNet-trained ResNet18 featurizer (all 22 convs): 512-d feature cosine vs FP32 and the
/// accuracy of a ridge probe, fitted once on FP32 features of upsampled sklearn digits, evaluated on held-out digits
/// with each compressed featurizer.
/// <para>Images: the 8×8 digits (ink 0..1) bilinearly resized to 224×224, grey repeated to three planes, ×255 and
/// passed through the package's own ResNetPreprocess.onnx (RGB 0..255 → BGR minus the mean image). Train images for
/// the probe and calibration images are drawn from the digits training split (disjoint), test images from its held-out
/// split.</para>
/// Arguments: <c>model=resnet18 bits=2,3 groups=4 methods=rtn,kmeans,proximal samples=64 iterations=30 train=300
/// test=200 [variant=scales] [lr=0.02] [permutation=fold|explicit|none] [objective=auto|block|layer] [exclude=glob,glob] [seed=0] [biascorrection=0|1] [header=1]; check=blocks prints BlockSensitivity, check=weights WeightError, for the first of bits= instead</c>.</summary>
internal static class ResNet18Bench
{
    /// <summary>Ridge penalty of the probe on standardised features (512 dims, a few hundred images): large enough to keep
    /// the solve well conditioned with fewer images than ~dims, small next to the N·1 diagonal of standardised XᵀX.</summary>
    private const double RidgeLambda = 10.0;

    private const string InputName = "Input247";
    private const string OutputName = "Pooling395_Output_0";

    public static void Run(Func<string, string, string> get)
    {
        var bitsList = get("bits", "2,3").Split(',').Select(int.Parse).ToArray();
        var groupsList = get("groups", "4").Split(',').Select(int.Parse).ToArray();
        var methods = get("methods", "rtn,kmeans,proximal").Split(',');
        int samples = int.Parse(get("samples", "64"), CultureInfo.InvariantCulture);
        int iterations = int.Parse(get("iterations", "30"), CultureInfo.InvariantCulture);
        int trainCount = int.Parse(get("train", "300"), CultureInfo.InvariantCulture);
        int testCount = int.Parse(get("test", "200"), CultureInfo.InvariantCulture);
        var variant = Enum.Parse<Compressor.Layers.Codebook.CodebookVariant>(get("variant", "scales"), ignoreCase: true);
        double lr = double.Parse(get("lr", "0.02"), CultureInfo.InvariantCulture);
        bool header = get("header", "1") == "1";
        var permutation = Enum.Parse<PermutationMode>(get("permutation", "fold"), ignoreCase: true);
        var objective = Enum.Parse<ReconstructionObjective>(get("objective", "auto"), ignoreCase: true);
        var exclude = get("exclude", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        int seed = int.Parse(get("seed", "0"), CultureInfo.InvariantCulture);
        bool biasCorrection = get("biascorrection", "0") == "1";
        int gsize = int.Parse(get("gsize", "0"), CultureInfo.InvariantCulture);     // gptq-family rows: per channel by default
        bool symmetric = get("scheme", "asymmetric") == "symmetric";
        BenchRun.AwqClip = Enum.Parse<Compressor.Plugins.Gptq.Algorithm.ClipMode>(get("awqclip", "auto"), ignoreCase: true);

        string modelPath = PretrainedModels.ResNet18();
        string prepPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(modelPath))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        var clock = Stopwatch.StartNew();

        // Digits: probe-train images and calibration images from the training split (disjoint), test from the held-out split.
        using var splits = DataSources.Open("digits", seed: 0);
        var (trainX, trainY) = Take(splits.Train, trainCount + samples);
        var (testX, testY) = Take(splits.Evaluation, testCount);
        Tensor mean;
        using (var prep = ModelIO.Load(prepPath, BenchRun.Kinds))
        using (no_grad())
            mean = Single(prep, zeros(1, 3, 224, 224)).neg();   // preprocess(x) = BGR(x) − mean; BGR of a grey image is itself
        Tensor Prepare(Tensor digits8)
        {
            using var scope = NewDisposeScope();
            var y = nn.functional.interpolate(digits8, [224, 224], mode: InterpolationMode.Bilinear, align_corners: false)
                .expand(-1, 3, -1, -1).mul(255.0).sub(mean);
            return y.MoveToOuterDisposeScope();
        }
        using var calibrationSet = new TensorDataSet("digits-224/calibration", Prepare(trainX.narrow(0, trainCount, samples)), null);
        if (get("check", "") == "weights")
        {
            using var fpModel = ModelIO.Load(modelPath, BenchRun.Kinds);
            WeightError.Run(fpModel, bitsList[0]);
            return;
        }
        if (get("check", "") == "blocks")
        {
            using var fpModel = ModelIO.Load(modelPath, BenchRun.Kinds);
            BlockSensitivity.Run(fpModel, Prepare(trainX.narrow(0, trainCount, Math.Min(samples, 16))), bitsList[0]);
            return;
        }
        var probeX = trainX.narrow(0, 0, trainCount);
        var probeY = trainY.narrow(0, 0, trainCount);

        Tensor Features(CompressibleModel model, Tensor digits8)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var outs = new List<Tensor>();
            for (long s = 0; s < digits8.shape[0]; s += 16)
                outs.Add(Single(model, Prepare(digits8.narrow(0, s, Math.Min(16, digits8.shape[0] - s)))).flatten(1));
            return cat(outs, 0).MoveToOuterDisposeScope();
        }

        Tensor fpTest, w, mu, sd;
        double fpAccuracy;
        using (var fp = ModelIO.Load(modelPath, BenchRun.Kinds))
        {
            var fpTrain = Features(fp, probeX);
            fpTest = Features(fp, testX);
            mu = fpTrain.mean([0]);
            sd = fpTrain.std([0]).clamp_min(1e-6);
            w = FitRidge(fpTrain.sub(mu).div(sd), probeY, 10);
            fpAccuracy = Accuracy(fpTest, testY, w, mu, sd);
        }
        // The features are non-negative (ReLU, then average pooling), so even unrelated images have a high cosine: the
        // mean cosine between the FP32 features of different test images is the floor a compressed model's cosine
        // must be read against.
        double unrelated;
        using (var n = nn.functional.normalize(fpTest, p: 2, dim: 1))
        using (var g = n.matmul(n.t()))
            unrelated = (g.sum().item<float>() - g.diagonal().sum().item<float>()) / (g.shape[0] * (g.shape[0] - 1));
        Console.WriteLine($"FP32 features of two different test images: mean cosine {unrelated:F4}");
        Console.WriteLine($"ResNet18 featurizer (real, ImageNet-trained): digits upsampled to 224, ridge probe (λ = {RidgeLambda} on standardised features) fitted on {trainCount} FP32 train features, " +
                          $"{testCount} held-out test images; FP32 probe accuracy {fpAccuracy:P2}; calibration {samples} images, {iterations} iterations per layer, index lr {lr}; " +
                          $"setup {clock.Elapsed.TotalSeconds:F0} s; torch threads {get_num_threads()}, load average {File.ReadAllText("/proc/loadavg").Trim()}");
        if (header)
        {
            Console.WriteLine("| method | bits b | G | variant | bits/weight (stored) | bits/weight (§2.2) | feature cosine mean | min | probe accuracy | drop (points) | ONNX bytes | compression s | peak MiB | ±1 moves |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        }
        foreach (int bits in bitsList)
            foreach (int groups in groupsList)
                foreach (var method in methods)
                {
                    if (method == "rtn" && bits < 2) { Console.WriteLine($"| rtn | {bits} | - | - | (rtn needs 2 to 8 bits) | | | | | | | | | |"); continue; }
                    bool uniform = BenchRun.GptqFamily.Contains(method);
                    var (plugin, options) = uniform
                        ? BenchRun.GptqRow(method, bits, gsize, symmetric, samples, [], exclude)
                        : (new JlcmPlugin(), BenchRun.Options(method, bits, groups, variant, lr, samples, iterations) with { Permutation = permutation, Objective = objective, Exclude = exclude, BiasCorrection = biasCorrection });
                    var (model, report, seconds, mib) = BenchRun.Compress(modelPath, plugin, options, new PluginData(calibrationSet, calibrationSet, null), seed);
                    using var _ = model;
                    using var q = Features(model, testX);
                    using var cos = nn.functional.cosine_similarity(q, fpTest, 1);
                    double accuracy = Accuracy(q, testY, w, mu, sd);
                    long bytes = BenchRun.OnnxBytes(model);
                    double Metric(string n) => report.Metrics.FirstOrDefault(m => m.Name == n)?.Value ?? double.NaN;
                    string g = uniform ? $"g{(gsize == 0 ? "row" : gsize)}" : method == "rtn" ? "-" : groups.ToString(CultureInfo.InvariantCulture);
                    string v = uniform ? (symmetric ? "uniform sym" : "uniform asym") : method == "rtn" ? "per-row uniform" : variant.ToString().ToLowerInvariant();
                    double accounted = uniform ? BenchRun.BitsPerWeight(report) : Metric("accountedBitsPerWeight");
                    Console.WriteLine($"| {method} | {bits} | {g} | {v} | {BenchRun.BitsPerWeight(report):F4} | {accounted:F4} | " +
                                      $"{cos.mean().item<float>():F4} | {cos.min().item<float>():F4} | {accuracy:P2} | {100 * (fpAccuracy - accuracy):F2} | {bytes:N0} | {seconds:F1} | {mib:F0} | " +
                                      $"{(method is "default" or "proximal" or "jlcm-gptq" ? Metric("unitMoveShare").ToString("P1", CultureInfo.InvariantCulture) : "-")} |");
                    Console.WriteLine($"#   {method} {bits}-bit G={groups}: CPU {BenchRun.LastCpuSeconds:F1} s, gptq loss {Metric("gptqLoss"):G4}, AWQ scaled {Metric("awqScaledLayers")} clipped {Metric("awqClippedLayers")}, seed {seed}, objective {objective}, bias correction {biasCorrection}, exclude [{string.Join(",", exclude)}], reconstruction loss Σ {Metric("reconstructionLossInit"):G4} → {Metric("reconstructionLoss"):G4} (relative {Metric("reconstructionRelativeLoss"):P2}), " +
                                      $"permutation mode {permutation}, folded {Metric("permutationsFolded")}, stored {Metric("permutationsStored")}, load average {File.ReadAllText("/proc/loadavg").Trim()}");
                }
    }

    private static Tensor Single(CompressibleModel model, Tensor x)
    {
        var y = model.Run(new Dictionary<string, Tensor> { [model.InputNames[0]] = x });
        return y[model.OutputNames[0]];
    }

    /// <summary>The first <paramref name="n"/> samples (inputs, labels) in the set's order.</summary>
    private static (Tensor X, Tensor Y) Take(IDataSet data, int n)
    {
        var xs = new List<Tensor>();
        var ys = new List<Tensor>();
        long taken = 0;
        foreach (var b in data.Batches(256))
        {
            using (b)
            {
                long k = Math.Min(b.Input.shape[0], n - taken);
                xs.Add(b.Input.narrow(0, 0, k).clone());
                ys.Add(b.Target!.narrow(0, 0, k).clone());
                taken += k;
            }
            if (taken >= n) break;
        }
        if (taken < n) throw new InvalidOperationException($"{data.Name} has only {taken} samples, {n} asked");
        return (cat(xs, 0), cat(ys, 0));
    }

    /// <summary>Closed-form ridge regression onto one-hot targets, with an unpenalised bias column: W [d+1, C].</summary>
    private static Tensor FitRidge(Tensor x, Tensor y, int classes)
    {
        using var scope = NewDisposeScope();
        var xb = cat([x.to_type(ScalarType.Float64), ones(x.shape[0], 1, ScalarType.Float64)], 1);
        var t = nn.functional.one_hot(y, classes).to_type(ScalarType.Float64);
        var reg = eye(xb.shape[1], dtype: ScalarType.Float64).mul(RidgeLambda);
        reg[xb.shape[1] - 1, xb.shape[1] - 1] = tensor(0.0, ScalarType.Float64);
        var wt = linalg.solve(xb.t().matmul(xb).add(reg), xb.t().matmul(t));
        return wt.MoveToOuterDisposeScope();
    }

    private static double Accuracy(Tensor features, Tensor labels, Tensor w, Tensor mu, Tensor sd)
    {
        using var scope = NewDisposeScope();
        var z = features.sub(mu).div(sd).to_type(ScalarType.Float64);
        var logits = cat([z, ones(z.shape[0], 1, ScalarType.Float64)], 1).matmul(w);
        return logits.argmax(1).eq(labels).to_type(ScalarType.Float64).mean().item<double>();
    }
}
