using Compressor.Plugins.Jlcm;
using Compressor.Plugins.Jlcm.Algorithm;
using Compressor.Layers.Codebook;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

/// <summary>A diagnostic for the ResNet18 rows: per conv, the k-means codebook's error in weight space
/// (‖Ŵ − W‖² / ‖W‖², no re-ordering, no learning) for one scale per layer (G = 1), four group scales (G = 4), one scale
/// per output channel (G = O) and four group codebooks, and how far the rows' means are from zero relative to their
/// spread.</summary>
internal static class WeightError
{
    public static void Run(CompressibleModel model, int bits)
    {
        Console.WriteLine($"| conv [O×I] | mean |row mean| / row std | {bits}-bit G = 1 | G = 4 | G = O | codebooks G = 4 |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var layer in model.Layers().Where(l => l.Type == LayerType.Conv2d))
        {
            using var scope = NewDisposeScope();
            var w = ((TorchSharp.Modules.Conv2d)layer.Module).weight!.detach().flatten(1);
            double Error(long groups, CodebookVariant variant)
            {
                using var cb = GroupedCodebook.Initialise(w, bits, groups, variant, CodebookInit.PlusPlus, 30, seed: 1);
                using var approx = cb.Weight();
                return approx.sub(w).square().sum().item<float>() / w.square().sum().item<float>();
            }
            double meanRatio = w.mean([1]).abs().div(w.std(1)).mean().item<float>();
            Console.WriteLine($"| {layer.Name} [{w.shape[0]}×{w.shape[1]}] | {meanRatio:F3} | {Error(1, CodebookVariant.Scales):F4} | {Error(4, CodebookVariant.Scales):F4} | " +
                              $"{Error(w.shape[0], CodebookVariant.Scales):F4} | {Error(4, CodebookVariant.Codebooks):F4} |");
        }
    }
}
