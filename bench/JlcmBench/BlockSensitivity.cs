using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Layers.Codebook;
using Compressor.Sdk.Models;
using Compressor.Engine.Onnx.Import;
using static TorchSharp.torch;

/// <summary>A diagnostic for the ResNet18 rows: each block of the FP model alone, with only its own convs replaced by
/// k-means codebooks (G = 4, variant scales, no re-ordering, no learning), on the FP model's inputs to it. Prints
/// the block-output error relative to the output's mean square (what the plugin's relative loss measures) and
/// relative to its per-channel-centred mean square (the part of the output that varies across images and positions,
/// which a probe reads).</summary>
internal static class BlockSensitivity
{
    public static void Run(CompressibleModel model, Tensor images, int bits)
    {
        var graph = (OnnxModule)model.Module;
        var inputs = new Dictionary<string, Tensor> { [model.InputNames[0]] = images };
        var convs = model.Layers().Where(l => l.Type == LayerType.Conv2d).Select(l => l.Name).ToList();
        var blocks = OnnxBlocks.Find(graph, convs, new Dictionary<string, Tensor> { [model.InputNames[0]] = images.narrow(0, 0, 1) });
        using var noGrad = no_grad();
        Console.WriteLine($"| block (convs) | {bits}-bit error / output mean square | error / centred output mean square |");
        Console.WriteLine("|---|---|---|");
        foreach (var block in blocks)
        {
            using var scope = NewDisposeScope();
            var given = graph.RunValues(inputs, block.Inputs).ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            var target = graph.RunValues(given, block.Outputs)[block.Outputs[0]].clone();
            var originals = new List<(string Name, nn.Module Module)>();
            foreach (var name in block.Layers)
            {
                var conv = (TorchSharp.Modules.Conv2d)model.GetLayer(name);
                using var cb = GroupedCodebook.Initialise(conv.weight!.detach().flatten(1), bits, 4, CodebookVariant.Scales, CodebookInit.PlusPlus, 30, seed: 1);
                originals.Add((name, conv));
                model.ReplaceLayer(name, cb.ToLayer(conv, null, conv.bias?.detach()), disposeOld: false);
            }
            var y = graph.RunValues(given, block.Outputs)[block.Outputs[0]];
            double error = y.sub(target).square().mean().item<float>();
            double power = target.square().mean().item<float>();
            double centred = target.sub(target.mean([0, 2, 3], keepdim: true)).square().mean().item<float>();
            Console.WriteLine($"| {string.Join(", ", block.Layers)} | {error / power:P2} | {error / centred:P2} |");
            foreach (var (name, m) in originals)
            {
                var q = model.GetLayer(name);
                model.ReplaceLayer(name, m, disposeOld: false);
                q.Dispose();
            }
        }
    }
}
