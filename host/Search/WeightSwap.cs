using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Puts treated dense weights into a model's float layers in place (the same parameter storage, so the
/// model's forward sees them without a copy of the model) and puts the original values back, bit for bit, when
/// disposed. Layers are linear or conv modules with a <c>weight</c> parameter.</summary>
public sealed class WeightSwap : IDisposable
{
    private readonly List<(Tensor Parameter, Tensor Saved)> _saved = [];

    private WeightSwap() { }

    /// <summary>Replaces each named layer's weight of <paramref name="model"/> by its treated dense weight (any device or
    /// float type: it is converted to the parameter's); the originals come back on <see cref="Dispose"/>.</summary>
    /// <exception cref="ArgumentException">A treated weight's shape differs from the layer's.</exception>
    public static WeightSwap Apply(CompressibleModel model, IEnumerable<(string Layer, Tensor Dense)> weights)
    {
        var swap = new WeightSwap();
        try
        {
            using var noGrad = no_grad();
            foreach (var (layer, dense) in weights)
            {
                var p = WeightOf(model, layer);
                if (!p.shape.SequenceEqual(dense.shape))
                    throw new ArgumentException($"search: the treated weight of {layer} is [{string.Join(", ", dense.shape)}], the layer's [{string.Join(", ", p.shape)}]");
                swap._saved.Add((p, p.detach().clone()));
                p.copy_(dense.to(p.device).to_type(p.dtype));
            }
            return swap;
        }
        catch
        {
            swap.Dispose();
            throw;
        }
    }

    /// <summary>The <c>weight</c> parameter of the float layer <paramref name="layer"/>.</summary>
    public static Tensor WeightOf(CompressibleModel model, string layer) =>
        model.GetLayer(layer).named_parameters(recurse: false).First(p => p.name == "weight").parameter;

    /// <summary>Restores the original weights (in reverse order, so a layer swapped twice ends at its original).</summary>
    public void Dispose()
    {
        using var noGrad = no_grad();
        for (int i = _saved.Count - 1; i >= 0; i--)
        {
            var (p, saved) = _saved[i];
            p.copy_(saved);
            saved.Dispose();
        }
        _saved.Clear();
    }
}
