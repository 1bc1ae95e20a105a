using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Models;

/// <summary>A module whose children are looked up by name at every forward, so a plugin can replace any child
/// (a linear by a quantized linear, one linear by two low-rank factors) without the parent knowing. Every
/// built-in architecture is made of these; <see cref="CompressibleModel.ReplaceLayer"/> relies on it.</summary>
public abstract class LayerContainer : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the container.</summary>
    protected LayerContainer(string name) : base(name) { }

    /// <summary>The child registered as <paramref name="name"/>, cast to a tensor-to-tensor module.</summary>
    protected nn.Module<Tensor, Tensor> Child(string name) =>
        _internal_submodules.TryGetValue(name, out var m) && m is nn.Module<Tensor, Tensor> f
            ? f
            : throw new InvalidOperationException($"{GetType().Name}: no child module '{name}' taking one tensor.");

    /// <summary>The child registered as <paramref name="name"/>.</summary>
    public nn.Module GetChild(string name) =>
        _internal_submodules.TryGetValue(name, out var m) ? m : throw new KeyNotFoundException($"no child '{name}'");

    /// <summary>Replaces the child <paramref name="name"/> in place (same position in the module order).</summary>
    public void ReplaceChild(string name, nn.Module replacement)
    {
        if (!_internal_submodules.ContainsKey(name)) throw new KeyNotFoundException($"no child '{name}'");
        _internal_submodules[name] = replacement;
    }
}
