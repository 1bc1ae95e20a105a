using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models.Pretrained;
using Compressor.Engine.Onnx.Import;
using Compressor.Layers.Integer;
using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;
using static TorchSharp.torch;

namespace OrtLatency;

/// <summary><c>int8 resnet18-layers [--calibration minmax|mse|percentile]</c>: where rtn static W8A8 loses ResNet18's
/// accuracy, layer by layer. The FP32 reference is the model with every BatchNormalization folded into its
/// convolution (the same function; what the quantized model is built from), run in TorchSharp on 8 held-out digits
/// upsampled to 224²; the W8A8 model (TorchSharp, which the export gate matches) runs on the same images. For every
/// Conv, Relu and Add of the graph in order: the SQNR (dB) of its output against FP32 — the error accumulated up to
/// there — and for each convolution its uint8 input and output grids (scale, zero point, and the share of the output
/// grid's codes that lie below zero). A ReLU-fused convolution's output is compared with the rectified FP32 output.</summary>
internal static class ConvLayers
{
    public static void Run(LayerKindSet kinds, CalibrationMethod method)
    {
        string path = PretrainedModels.ResNet18();
        var digits = DataSources.Open("digits,size=224,channels=3,scale=255", 0);
        Tensor images;
        using (var e = digits.Evaluation!.Batches(8).GetEnumerator()) { e.MoveNext(); images = e.Current.Input.clone(); }
        using var reference = ModelIO.Load(path, kinds);
        foreach (var l in reference.Layers().Where(l => l.Type == LayerType.Conv2d)) reference.FoldOutputNormalization(l.Name);
        using var quantized = ModelIO.Load(path, kinds);
        Int8Bench.RunPlugin(new RtnPlugin(), quantized, new RtnOptions { WeightBits = 8, GroupSize = 0, ActivationBits = 8, ActivationScheme = ActivationScheme.Static, Calibration = method }, kinds, digits.Calibration);

        var graph = ((OnnxModule)reference.Module).GraphWithoutWeights().Graph;
        var watched = graph.Node.Where(n => n.OpType is "Conv" or "Relu" or "Add").ToDictionary(n => n.Output[0], n => n, StringComparer.Ordinal);
        string input = reference.InputNames[0], output = reference.OutputNames[0];
        var fp32 = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var module = (OnnxModule)quantized.Module;
        var rectified = graph.Node.Where(n => n.OpType == "Conv" && n.Input.Count > 1 && module.LayerOfInitializer.TryGetValue(n.Input[1], out var l) && quantized.OutputIsRectified(l))
            .Select(n => n.Output[0]).ToHashSet(StringComparer.Ordinal);
        using (no_grad())
        {
            var r = reference.RunValues(new Dictionary<string, Tensor> { [input] = images }, [output], (name, t) => { if (watched.ContainsKey(name)) fp32[name] = t.detach().clone(); });
            var db = new Dictionary<string, double>(StringComparer.Ordinal);
            var q = quantized.RunValues(new Dictionary<string, Tensor> { [input] = images }, [output], (name, t) =>
            {
                if (!fp32.TryGetValue(name, out var f)) return;
                // A ReLU-fused convolution writes rectified values: compared with the rectified FP32 output.
                using var expected = rectified.Contains(name) ? f.clamp_min(0) : f.alias();
                db[name] = Sqnr.Db(expected, t);
            });
            Console.WriteLine($"ResNet18 rtn W8A8 static ({method}), TorchSharp, 8 held-out digits at 224²: SQNR of each value against the BN-folded FP32 model");
            Console.WriteLine($"final feature SQNR {Sqnr.Db(r[output], q[output]):F2} dB, cosine {nn.functional.cosine_similarity(r[output].flatten(1), q[output].flatten(1)).mean().item<float>():F4}");
            Console.WriteLine();
            Console.WriteLine("| node | op | SQNR dB | input grid s / z | output grid s / z | output codes below 0 |");
            Console.WriteLine("|---|---|---:|---|---|---:|");
            foreach (var node in graph.Node.Where(n => watched.ContainsKey(n.Output[0])))
            {
                string grids = "| | |";
                if (node.OpType == "Conv")
                {
                    if (((OnnxModule)quantized.Module).LayerOfInitializer.TryGetValue(node.Input[1], out var name) && quantized.GetLayer(name) is IntegerLayer layer)
                        grids = $"| {layer.InputScale:G3} / {layer.InputZeroPoint} | {layer.OutputScale:G3} / {layer.OutputZeroPoint}{(rectified.Contains(node.Output[0]) ? " (ReLU fused)" : "")} | {layer.OutputZeroPoint / 255.0:P0} |";
                }
                Console.WriteLine($"| {node.Name} | {node.OpType} | {(db.TryGetValue(node.Output[0], out var d) ? d.ToString("F1") : "–")} {grids}");
            }
            foreach (var t in r.Values.Concat(q.Values)) t.Dispose();
        }
        foreach (var t in fp32.Values) t.Dispose();
        images.Dispose();
    }
}
