using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Verification;
using Compressor.Plugins.StatsQ;
using Compressor.Plugins.StatsQ.Algorithm;
using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Plugins.StatsQ.Algorithm.Training;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Data;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Microsoft.ML.OnnxRuntime;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;
using DenseTensorF = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace OrtLatency;

/// <summary><c>int8 vit</c> (DeiT-tiny's shape: 224², patch 16, dim 192, depth 12, 3 heads; random weights) and
/// <c>int8 resnet18</c> (the real CNTK ResNet18 featurizer): FP32 against the quantize_dynamic peer and the rtn,
/// StatsQ and low-rank variants, timed interleaved at batch 8 ; quality =
/// output cosine against FP32 on held-out inputs (random images for the random-weight ViT, sklearn digits upsampled to
/// 224² for ResNet18, which also gets the top-1 of a ridge probe fitted on FP32 features: against the labels and
/// against FP32's). <c>--batch N</c> (ResNet18, default 8) gives every file a symbolic batch.</summary>
internal static class VisionInt8
{
    public static void Run(string dir, LayerKindSet kinds, int runs, string what, string only = "", int resnetBatch = 8)
    {
        kinds = kinds.With(new StatsQPlugin().LayerKinds);
        bool vit = what == "vit";
        Func<CompressibleModel> load;
        string input;
        int batch;
        IDataSet calibration;
        Tensor heldOut;
        Tensor? heldOutLabels = null, probeX = null, probeY = null;
        if (vit)
        {
            var spec = ArchitectureRegistry.Spec("vit", new JObject { ["imageSize"] = 224, ["patchSize"] = 16, ["inChannels"] = 3, ["dim"] = 192, ["depth"] = 12, ["heads"] = 3, ["mlpRatio"] = 4, ["classes"] = 1000 });
            load = () => { manual_seed(0); return ArchitectureRegistry.CreateModel(spec, kinds); };
            input = "images";
            batch = 8;
            var g = new Generator(1);
            calibration = new TensorDataSet("random-images/calibration", randn([64, 3, 224, 224], generator: g), null);
            heldOut = randn([16, 3, 224, 224], generator: g);
        }
        else
        {
            string path = PretrainedModels.ResNet18();
            load = () => ModelIO.Load(path, kinds);
            input = "Input247";
            batch = resnetBatch;
            var digits = DataSources.Open("digits,size=224,channels=3,scale=255", 0);
            calibration = digits.Calibration!;
            (heldOut, heldOutLabels) = Take(digits.Evaluation!, HeldOutImages);
            (probeX, probeY) = Take(digits.Train!, ProbeImages);
        }
        string fp32 = Path.Combine(dir, $"{what}-fp32.onnx");
        long fp32Bytes;
        using (var m = load()) fp32Bytes = Int8Bench.Export(m, fp32, kinds, ExportTarget.Size).Bytes;
        // ResNet18's graph has a fixed batch of 1 (and no shape-dependent node): each timed file gets a symbolic batch.
        bool rebatch = !vit && batch != 1;
        if (rebatch) SymbolicBatch(fp32);
        int featureBatch = vit || rebatch ? 8 : 1;
        var fp32Out = OrtOutputs(fp32, input, heldOut, featureBatch);
        // ResNet18 has no class head: a ridge probe fitted on FP32 features of training digits stands in for one; each
        // variant's top-1 through that probe is compared with the labels and with FP32's own top-1 (agreement).
        Ridge? probe = probeX is null ? null : Ridge.Fit(OrtOutputs(fp32, input, probeX, featureBatch), probeY!, 10);
        string Probe(float[][] features)
        {
            if (probe is null) return "";
            var predicted = probe.Predict(features);
            var fp32Predicted = probe.Predict(fp32Out);
            var labels = heldOutLabels!.data<long>().ToArray();
            double accuracy = predicted.Zip(labels).Average(p => p.First == p.Second ? 1.0 : 0.0);
            double agreement = predicted.Zip(fp32Predicted).Average(p => p.First == p.Second ? 1.0 : 0.0);
            return $" {accuracy:P1} / {agreement:P1} |";
        }
        var feeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor(input, new DenseTensorF(randn([batch, 3, 224, 224], generator: new Generator(9)).data<float>().ToArray(), [batch, 3, 224, 224])) };

        Console.WriteLine(vit
            ? "ViT in DeiT-tiny's shape (224², patch 16, dim 192, depth 12, 3 heads, 5.7M parameters), random weights; quality = logit cosine vs FP32 on 16 random images"
            : $"ResNet18 (real CNTK weights, featurizer){(rebatch ? "; its graph's fixed batch of 1 made symbolic in every file" : "")}; quality = feature cosine vs FP32 on {HeldOutImages} held-out sklearn digits upsampled to 224² (calibration: the digits' calibration split)");
        Console.WriteLine($"ORT {OnnxVerifier.OrtVersion}, ORT_ENABLE_ALL, {Int8Bench.Threads} intra-op threads, {runs} interleaved pairs after 5 warm-up runs, batch {batch}");
        Console.WriteLine();
        if (probe is not null)
            Console.WriteLine($"probe: ridge (λ = {Ridge.Lambda}) on standardised L2-normalised FP32 features of the first {ProbeImages} training digits; top-1 on {HeldOutImages} held-out digits, and agreement with FP32's top-1");
        Console.WriteLine("| variant | target | median ms | p90 ms | speed-up vs FP32 (p10–p90) | bytes | kernels | cosine vs FP32 mean / min |" + (probe is null ? "" : " probe top-1 / agreement with FP32 |"));
        Console.WriteLine("|---|---|---|---|---|---|---|---|" + (probe is null ? "" : "---|"));
        void Row(string label, string target, string path, long bytes, string kernels, float[][] features)
        {
            var t = Int8Bench.Time(fp32, path, feeds, runs);
            var cos = MiniLmInt8.Cosines(fp32Out, features);
            Console.WriteLine($"| {label} | {target} | {t.Median:F1} | {t.P90:F1} | {t.SpeedUp:F2}× ({t.SpeedUpP10:F2}–{t.SpeedUpP90:F2}; FP32 {t.Fp32Median:F1} ms) | {bytes:N0} | {kernels} | " +
                              $"{cos.Average():F4} / {cos.Min():F4} |" + Probe(features));
        }
        Row("FP32", "–", fp32, fp32Bytes, "–", fp32Out);
        string peer = Path.Combine(dir, $"{what}-peer.onnx");
        var (mm, convs) = PeerDynamic.Build(fp32, peer);
        Row($"quantize_dynamic peer ({mm} MatMuls, {convs} Convs)", "–", peer, new FileInfo(peer).Length, Int8Bench.Kernels(peer, []), OrtOutputs(peer, input, heldOut, featureBatch));

        var variants = new List<(string Label, Action<CompressibleModel> Apply, ExportTarget Target)>
        {
            ("rtn W8A8 static, min-max", m => Rtn(m, kinds, calibration, ActivationScheme.Static, 0), ExportTarget.Speed),
            ("rtn W8A8 dynamic-tensor", m => Rtn(m, kinds, calibration, ActivationScheme.DynamicTensor, 0), ExportTarget.Speed),
        };
        if (!vit)
        {
            // The QLinearConv form's output grids (ResNet18's convs feed a BatchNormalization, so one output scale per
            // tensor is coarse for its small channels): the other calibration methods.
            variants.Add(("rtn W8A8 static, MSE", m => Rtn(m, kinds, calibration, ActivationScheme.Static, 0, CalibrationMethod.Mse), ExportTarget.Speed));
            variants.Add(("rtn W8A8 static, percentile 99.99", m => Rtn(m, kinds, calibration, ActivationScheme.Static, 0, CalibrationMethod.Percentile), ExportTarget.Speed));
        }
        if (vit)
        {
            variants.Add(("rtn W8A8 static min-max + SmoothQuant α 0.5", m => Rtn(m, kinds, calibration, ActivationScheme.Static, 0.5), ExportTarget.Speed));
            variants.Add(("rtn W8A8 dynamic per token", m => Rtn(m, kinds, calibration, ActivationScheme.Dynamic, 0), ExportTarget.Speed));
            variants.Add(("StatsQ W4A4 (untrained QAT form, standard attention)", m => StatsQ(m, 4, calibration), ExportTarget.Speed));
            variants.Add(("StatsQ W4A4, size form", m => StatsQ(m, 4, calibration), ExportTarget.Size));
            variants.Add(("StatsQ W8A8 (LSQ weights)", m => StatsQ(m, 8, calibration), ExportTarget.Speed));
            variants.Add(("low-rank 50 % (SVD) + int8 factors", m => LowRank.Apply(m, 0.5), ExportTarget.Speed));
        }
        variants.Add(("rtn 4-bit group 32", m => Int8Bench.RunPlugin(new RtnPlugin(), m, new RtnOptions { WeightBits = 4, GroupSize = 32 }, kinds, null), ExportTarget.Size));
        // --only a,b: the variants whose label contains one of the words (FP32 and the peer always run).
        var words = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (label, apply, target) in variants.Where(v => words.Length == 0 || words.Any(w => v.Label.Contains(w, StringComparison.OrdinalIgnoreCase))))
        {
            using var model = load();
            apply(model);
            string path = Path.Combine(dir, $"{what}-{string.Concat(label.Where(char.IsLetterOrDigit)).ToLowerInvariant()}-{target}.onnx");
            var (_, bytes, layers, v) = Int8Bench.Export(model, path, kinds, target);
            if (rebatch) SymbolicBatch(path);
            Row(label + $" (gate {v.SqnrDb:F1} dB)", target == ExportTarget.Speed ? "speed" : "size", path, bytes, Int8Bench.Kernels(path, layers),
                OrtOutputs(path, input, heldOut, featureBatch));
        }
    }

    private static void Rtn(CompressibleModel m, LayerKindSet kinds, IDataSet calibration, ActivationScheme scheme, double alpha, CalibrationMethod method = CalibrationMethod.MinMax) =>
        Int8Bench.RunPlugin(new RtnPlugin(), m, new RtnOptions { WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = scheme, Smoothquant = alpha, Calibration = method }, kinds, calibration);

    /// <summary>StatsQ's QAT rewrite, LSQ scales initialised on calibration batches (no training: the speed of the
    /// shipped form does not depend on the values), then the shipped form.</summary>
    private static void StatsQ(CompressibleModel m, int bits, IDataSet calibration)
    {
        ModelQuantization.Apply(m, new StatsQOptions { WeightBits = bits, ActivationBits = bits, Quantizer = bits == 8 ? WeightQuantizerKind.Lsq : WeightQuantizerKind.StatsQ, Qkr = false, Cga = false });
        using (no_grad())
            foreach (var b in calibration.Batches(8).Take(1))
                using (b) m.Forward(b.Input).Dispose();
        QatConversion.Apply(m, null, CPU);
    }

    /// <summary>Rewrites <paramref name="path"/> with the first dimension of its inputs and outputs symbolic ("N") and
    /// no intermediate shapes (ORT infers them).</summary>
    private static void SymbolicBatch(string path)
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        foreach (var v in model.Graph.Input.Concat(model.Graph.Output))
            if (v.Type?.TensorType?.Shape is { Dim.Count: > 0 } shape)
                shape.Dim[0] = new Onnx.TensorShapeProto.Types.Dimension { DimParam = "N" };
        model.Graph.ValueInfo.Clear();
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
    }

    /// <summary>ResNet18's held-out digits (feature cosine and probe top-1) and the probe's training digits.</summary>
    private const int HeldOutImages = 160, ProbeImages = 320;

    /// <summary>The first <paramref name="n"/> samples (inputs, labels) in the set's order.</summary>
    private static (Tensor X, Tensor Y) Take(IDataSet data, int n)
    {
        var xs = new List<Tensor>();
        var ys = new List<Tensor>();
        long taken = 0;
        foreach (var b in data.Batches(64))
        {
            using (b)
            {
                long k = Math.Min(b.Input.shape[0], n - taken);
                xs.Add(b.Input.narrow(0, 0, k).clone());
                ys.Add(b.Target!.narrow(0, 0, k).to_type(ScalarType.Int64).clone());
                taken += k;
            }
            if (taken >= n) break;
        }
        if (taken < n) throw new InvalidOperationException($"{data.Name} has only {taken} samples, {n} asked");
        return (cat(xs, 0), cat(ys, 0));
    }

    /// <summary>Closed-form ridge regression onto one-hot targets on standardised features, with an unpenalised bias.</summary>
    private sealed class Ridge
    {
        public const double Lambda = 10.0;
        private readonly Tensor _w, _mu, _sd;

        private Ridge(Tensor w, Tensor mu, Tensor sd) { _w = w; _mu = mu; _sd = sd; }

        public static Ridge Fit(float[][] features, Tensor labels, int classes)
        {
            var x = Stack(features);
            var mu = x.mean([0]);
            var sd = x.std([0]).clamp_min(1e-6);
            var z = x.sub(mu).div(sd);
            var xb = cat([z, ones(z.shape[0], 1, ScalarType.Float64)], 1);
            var t = nn.functional.one_hot(labels, classes).to_type(ScalarType.Float64);
            var reg = eye(xb.shape[1], dtype: ScalarType.Float64).mul(Lambda);
            reg[xb.shape[1] - 1, xb.shape[1] - 1] = tensor(0.0, ScalarType.Float64);
            return new Ridge(linalg.solve(xb.t().matmul(xb).add(reg), xb.t().matmul(t)), mu, sd);
        }

        public long[] Predict(float[][] features)
        {
            using var scope = NewDisposeScope();
            var z = Stack(features).sub(_mu).div(_sd);
            return cat([z, ones(z.shape[0], 1, ScalarType.Float64)], 1).matmul(_w).argmax(1).data<long>().ToArray();
        }

        private static Tensor Stack(float[][] features) =>
            tensor(features.SelectMany(f => f.Select(v => (double)v)).ToArray(), [features.Length, features[0].Length], ScalarType.Float64);
    }

    /// <summary>Flattened outputs per sample from an ONNX file (ORT_ENABLE_ALL), in batches.</summary>
    private static float[][] OrtOutputs(string path, string input, Tensor x, int batch)
    {
        using var so = Int8Bench.Options();
        using var session = new InferenceSession(path, so);
        var result = new List<float[]>();
        for (long i = 0; i < x.shape[0]; i += batch)
        {
            using var chunk = x.narrow(0, i, Math.Min(batch, x.shape[0] - i)).contiguous();
            int[] shape = chunk.shape.Select(d => (int)d).ToArray();
            using var outputs = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensorF(chunk.data<float>().ToArray(), shape))]);
            var y = outputs.First().AsEnumerable<float>().ToArray();
            int per = y.Length / shape[0];
            for (int s = 0; s < shape[0]; s++)
            {
                var v = y.Skip(s * per).Take(per).Select(f => (double)f).ToArray();
                double norm = Math.Sqrt(v.Sum(a => a * a));
                result.Add(v.Select(a => (float)(a / norm)).ToArray());
            }
        }
        return [.. result];
    }
}
