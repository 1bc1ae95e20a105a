using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Verification;
using Compressor.Layers.Structured;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;
using DenseTensorL = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;

namespace OrtLatency;

/// <summary><c>int8 minilm</c>: all-MiniLM-L6-v2 FP32 against the quantize_dynamic peer and the rtn/low-rank
/// variants, timed at batch 8 × 128 and 1 × 128 tokens; quality = sentence-embedding cosine (mean-pooled,
/// L2-normalised) against FP32 on 200 held-out Moby Dick sentences, and the same against the TorchSharp model for the
/// compressed variants (ORT ≈ TorchSharp).</summary>
internal static class MiniLmInt8
{
    public static void Run(string dir, LayerKindSet kinds, int runs, string textPath, string only = "")
    {
        var sentences = SentenceDataSource.Split(File.ReadAllText(textPath)).ToList();
        var calibration = sentences.Skip(200).Take(64).ToList();
        var heldOut = sentences.Skip(3000).Take(200).ToList();
        var files = PretrainedModels.MiniLm();
        var tokenizer = BertTokenizer.Create(files.VocabPath, new BertOptions { LowerCaseBeforeTokenization = true });
        string calibFile = Path.Combine(dir, "calibration.txt");
        File.WriteAllLines(calibFile, calibration);
        using var calib = DataSources.Open($"sentences:{calibFile},context=128,validation=0.01,calibration=64", 0);
        var held = heldOut.Select(s => tokenizer.EncodeToIds(s).Take(128).Select(i => (long)i).ToArray()).ToList();

        string fp32 = Path.Combine(dir, "minilm-fp32.onnx");
        long fp32Bytes;
        using (var m = ModelIO.Load(files.ModelPath, kinds)) fp32Bytes = Int8Bench.Export(m, fp32, kinds, ExportTarget.Size).Bytes;
        var fp32Embeddings = OrtEmbeddings(fp32, held);

        Console.WriteLine($"all-MiniLM-L6-v2 (real weights); quality on {held.Count} held-out Moby Dick sentences (calibration: 64 others); " +
                          $"ORT {OnnxVerifier.OrtVersion}, ORT_ENABLE_ALL, {Int8Bench.Threads} intra-op threads, {runs} interleaved pairs after 5 warm-up runs");
        Console.WriteLine();
        Console.WriteLine("| variant | target | median ms 8×128 | p90 ms | speed-up vs FP32 (p10–p90) | median ms 1×128 | speed-up 1×128 | bytes | kernels | cosine vs FP32 mean / min | ORT vs TorchSharp cosine min |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        var feeds8 = Feeds(8, 128);
        var feeds1 = Feeds(1, 128);
        void Row(string label, string target, string path, long bytes, string kernels, double[] cosines, string torch)
        {
            var t8 = Int8Bench.Time(fp32, path, feeds8, runs);
            var t1 = Int8Bench.Time(fp32, path, feeds1, runs);
            Console.WriteLine($"| {label} | {target} | {t8.Median:F1} | {t8.P90:F1} | {t8.SpeedUp:F2}× ({t8.SpeedUpP10:F2}–{t8.SpeedUpP90:F2}; FP32 {t8.Fp32Median:F1} ms) | {t1.Median:F2} | {t1.SpeedUp:F2}× ({t1.SpeedUpP10:F2}–{t1.SpeedUpP90:F2}) | {bytes:N0} | {kernels} | " +
                              (cosines.Length == 0 ? "1 | – |" : $"{cosines.Average():F4} / {cosines.Min():F4} | {torch} |"));
        }
        Row("FP32", "–", fp32, fp32Bytes, "–", [], "–");

        string peer = Path.Combine(dir, "minilm-peer.onnx");
        var (mm, _) = PeerDynamic.Build(fp32, peer);
        Row($"quantize_dynamic peer ({mm} MatMuls)", "–", peer, new FileInfo(peer).Length, Int8Bench.Kernels(peer, []), Cosines(fp32Embeddings, OrtEmbeddings(peer, held)), "–");

        var variants = new (string Label, RtnOptions? Rtn, bool LowRank, ExportTarget Target)[]
        {
            ("rtn W8A8 static, min-max", W8A8(ActivationScheme.Static, CalibrationMethod.MinMax, 0), false, ExportTarget.Speed),
            ("rtn W8A8 static, percentile 99.99", W8A8(ActivationScheme.Static, CalibrationMethod.Percentile, 0), false, ExportTarget.Speed),
            ("rtn W8A8 static, MSE", W8A8(ActivationScheme.Static, CalibrationMethod.Mse, 0), false, ExportTarget.Speed),
            ("rtn W8A8 static min-max + SmoothQuant α 0.5", W8A8(ActivationScheme.Static, CalibrationMethod.MinMax, 0.5), false, ExportTarget.Speed),
            ("rtn W8A8 dynamic per token", W8A8(ActivationScheme.Dynamic, CalibrationMethod.MinMax, 0), false, ExportTarget.Speed),
            ("rtn W8A8 dynamic per tensor", W8A8(ActivationScheme.DynamicTensor, CalibrationMethod.MinMax, 0), false, ExportTarget.Speed),
            ("rtn W8A8 dynamic per token + SmoothQuant α 0.5", W8A8(ActivationScheme.Dynamic, CalibrationMethod.MinMax, 0.5), false, ExportTarget.Speed),
            ("rtn 4-bit group 32", new RtnOptions { WeightBits = 4, GroupSize = 32 }, false, ExportTarget.Size),
            ("low-rank 50 % (SVD) + int8 factors", null, true, ExportTarget.Speed),
        };
        // --only a,b: the variants whose label contains one of the words (FP32 and the peer always run).
        var words = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (label, rtn, lowRank, target) in variants.Where(v => words.Length == 0 || words.Any(w => v.Label.Contains(w, StringComparison.OrdinalIgnoreCase))))
        {
            using var model = ModelIO.Load(files.ModelPath, kinds);
            if (rtn is not null) Int8Bench.RunPlugin(new RtnPlugin(), model, rtn, kinds, calib.Calibration);
            if (lowRank) LowRank.Apply(model, 0.5);
            string path = Path.Combine(dir, $"minilm-{Slug(label)}.onnx");
            var (_, bytes, layers, v) = Int8Bench.Export(model, path, kinds, target);
            var ort = OrtEmbeddings(path, held);
            var torchEmbeddings = TorchEmbeddings(model, held);
            var agree = Cosines(torchEmbeddings, ort);
            Row(label, target == ExportTarget.Speed ? "speed" : "size", path, bytes, Int8Bench.Kernels(path, layers), Cosines(fp32Embeddings, ort),
                $"{agree.Min():F4} (gate {v.SqnrDb:F1} dB)");
        }
    }

    private static RtnOptions W8A8(ActivationScheme scheme, CalibrationMethod calibration, double alpha) => new()
    {
        WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = scheme, Calibration = calibration, Smoothquant = alpha,
    };

    private static string Slug(string s) => new(s.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());

    private static List<NamedOnnxValue> Feeds(int batch, int seq)
    {
        var g = new Random(0);
        var ids = Enumerable.Range(0, batch * seq).Select(_ => (long)g.Next(1000, 30000)).ToArray();
        int[] shape = [batch, seq];
        return
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensorL(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensorL(Enumerable.Repeat(1L, batch * seq).ToArray(), shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensorL(new long[batch * seq], shape)),
        ];
    }

    /// <summary>Mean-pooled, L2-normalised sentence embeddings from an ONNX file (ORT_ENABLE_ALL), batches of 8.</summary>
    public static float[][] OrtEmbeddings(string path, IReadOnlyList<long[]> sentences)
    {
        using var so = Int8Bench.Options();
        using var session = new InferenceSession(path, so);
        var result = new List<float[]>();
        foreach (var chunk in sentences.Chunk(8))
        {
            int len = chunk.Max(s => s.Length);
            var ids = new long[chunk.Length * len];
            var mask = new long[chunk.Length * len];
            for (int i = 0; i < chunk.Length; i++)
                for (int j = 0; j < chunk[i].Length; j++) { ids[i * len + j] = chunk[i][j]; mask[i * len + j] = 1; }
            int[] shape = [chunk.Length, len];
            using var outputs = session.Run([
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensorL(ids, shape)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensorL(mask, shape)),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensorL(new long[ids.Length], shape))]);
            var h = outputs.First().AsEnumerable<float>().ToArray();
            int dim = h.Length / (chunk.Length * len);
            for (int i = 0; i < chunk.Length; i++) result.Add(Pool(h, i, len, dim, chunk[i].Length));
        }
        return [.. result];
    }

    /// <summary>The same embeddings from the TorchSharp model.</summary>
    public static float[][] TorchEmbeddings(CompressibleModel model, IReadOnlyList<long[]> sentences)
    {
        var result = new List<float[]>();
        using var noGrad = no_grad();
        model.Module.eval();
        foreach (var chunk in sentences.Chunk(8))
        {
            using var scope = NewDisposeScope();
            int len = chunk.Max(s => s.Length);
            var ids = new long[chunk.Length * len];
            for (int i = 0; i < chunk.Length; i++)
                for (int j = 0; j < chunk[i].Length; j++) ids[i * len + j] = chunk[i][j];
            var x = tensor(ids).reshape(chunk.Length, len);
            var outputs = model.Run(model.Feed(x));
            var h = outputs[model.OutputNames[0]].contiguous().data<float>().ToArray();
            int dim = h.Length / (chunk.Length * len);
            for (int i = 0; i < chunk.Length; i++) result.Add(Pool(h, i, len, dim, chunk[i].Length));
        }
        return [.. result];
    }

    private static float[] Pool(float[] h, int i, int len, int dim, int valid)
    {
        var e = new double[dim];
        for (int t = 0; t < valid; t++)
            for (int d = 0; d < dim; d++) e[d] += h[(i * len + t) * dim + d];
        double norm = Math.Sqrt(e.Sum(v => v * v));
        return e.Select(v => (float)(v / norm)).ToArray();
    }

    public static double[] Cosines(float[][] a, float[][] b) => a.Zip(b, (x, y) => x.Zip(y, (p, q) => (double)p * q).Sum()).ToArray();
}

/// <summary>Replaces every linear layer by its truncated SVD at <c>fraction</c> of its weights: rank
/// r = fraction·N·M/(N + M), lr1 = √Σ·Vᵀ, lr2 = U·√Σ (the layers library's <see cref="LowRankLinear"/>).</summary>
internal static class LowRank
{
    public static void Apply(CompressibleModel model, double fraction)
    {
        foreach (var layer in model.Select(LayerType.Linear, LayerSelector.All))
        {
            using var scope = NewDisposeScope();
            var lin = (TorchSharp.Modules.Linear)layer.Module;
            var w = lin.weight!.detach();
            long m = w.shape[0], n = w.shape[1];
            long r = Math.Max(1, (long)(fraction * n * m / (n + m)));
            var (u, s, vh) = linalg.svd(w, fullMatrices: false);
            var root = s.narrow(0, 0, r).sqrt();
            var lr1 = root.unsqueeze(1).mul(vh.narrow(0, 0, r));
            var lr2 = u.narrow(1, 0, r).mul(root.unsqueeze(0));
            model.ReplaceLayer(layer.Name, LowRankLinear.FromFactors(lr1, lr2, lin.bias?.detach()));
        }
    }
}
