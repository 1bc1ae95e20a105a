using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Folds a row permutation P of a producer layer into the model ([RECON] README "Permutation folding"): P is
/// applied to the producer's rows (output channels) and bias and to the input columns (input channels) of a consumer
/// layer, which leaves the network function unchanged when everything between them is elementwise (an activation) or
/// per-position (pooling). The structure between layers is not inspected; instead each candidate consumer is tried and
/// the model's outputs on a calibration batch are compared before and after: a fold is kept only if they agree to
/// <see cref="Tolerance"/> (relative L2), otherwise it is undone and the next candidate is tried. Where no candidate
/// works (residual streams, attention heads, a norm in between) the permutation must be stored explicitly.</summary>
public static class PermutationFolding
{
    /// <summary>Largest relative L2 change of the model outputs accepted for a fold (float32 reassociation only).</summary>
    public const double Tolerance = 1e-5;

    /// <summary>How many following layers are tried as the consumer.</summary>
    public const int MaxCandidates = 2;

    /// <summary>Output width (rows) of a Linear or Conv2d.</summary>
    public static long OutWidth(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => l.out_features,
        TorchSharp.Modules.Conv2d c => c.out_channels,
        _ => -1,
    };

    /// <summary>Input width (columns/channels) of a Linear or an ungrouped Conv2d (−1 otherwise).</summary>
    public static long InWidth(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => l.in_features,
        TorchSharp.Modules.Conv2d { groups: 1 } c => c.in_channels,
        _ => -1,
    };

    /// <summary>Permutes the producer's rows and bias in place: new row i = old row <paramref name="order"/>[i].</summary>
    public static void PermuteRows(nn.Module producer, Tensor order)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (weight, bias) = WeightAndBias(producer);
        weight.copy_(weight.index_select(0, order.to(weight.device)));
        bias?.copy_(bias.index_select(0, order.to(bias.device)));
    }

    /// <summary>Permutes the consumer's input columns (input channels) in place: new column i = old column order[i].</summary>
    public static void PermuteColumns(nn.Module consumer, Tensor order)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (weight, _) = WeightAndBias(consumer);
        weight.copy_(weight.index_select(1, order.to(weight.device)));
    }

    /// <summary>Tries to fold <paramref name="order"/> for the producer at <paramref name="producerIndex"/> of
    /// <paramref name="layers"/>; returns the consumer's name, or null (model unchanged) when no candidate keeps the
    /// outputs within <see cref="Tolerance"/>.</summary>
    public static string? TryFold(CompressibleModel model, IReadOnlyList<LayerInfo> layers, int producerIndex, Tensor order, Func<Tensor> outputs)
    {
        var producer = layers[producerIndex].Module;
        long width = OutWidth(producer);
        var candidates = layers.Skip(producerIndex + 1).Where(l => InWidth(l.Module) == width).Take(MaxCandidates).ToList();
        if (candidates.Count == 0) return null;
        using var scope = NewDisposeScope();
        var before = outputs();
        var inverse = order.argsort();
        foreach (var c in candidates)
        {
            PermuteRows(producer, order);
            PermuteColumns(c.Module, order);
            var after = outputs();
            double rel = after.sub(before).norm().item<float>() / Math.Max(1e-30, before.norm().item<float>());
            if (rel <= Tolerance) return c.Name;
            PermuteRows(producer, inverse);
            PermuteColumns(c.Module, inverse);
        }
        return null;
    }

    private static (Tensor Weight, Tensor? Bias) WeightAndBias(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => (l.weight!, l.bias),
        TorchSharp.Modules.Conv2d c => (c.weight!, c.bias),
        _ => throw new ArgumentException($"cannot permute a {m.GetType().Name}"),
    };
}
