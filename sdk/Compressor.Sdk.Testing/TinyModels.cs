using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Layers;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Sdk.Testing;

/// <summary>Small, seeded built-in models for plugin tests: the same seed gives the same weights. Each model knows the
/// layers library's kinds and the kinds given (a plugin's own), so that it can be copied, saved and
/// exported once a plugin has rewritten it.</summary>
public static class TinyModels
{
    /// <summary>An MLP 64 → 96 → 48 → 10 (digits-sized) with seeded weights.</summary>
    /// <param name="seed">The initialisation seed.</param>
    /// <param name="inputs">Input features.</param>
    /// <param name="hidden">Hidden widths (default 96, 48).</param>
    /// <param name="outputs">Output features.</param>
    /// <param name="kinds">Layer kinds besides the layers library's (a plugin's <see cref="Plugins.ICompressionPlugin.LayerKinds"/>).</param>
    public static CompressibleModel Mlp(int seed = 0, int inputs = 64, int[]? hidden = null, int outputs = 10, IEnumerable<ILayerKind>? kinds = null)
    {
        manual_seed(seed);
        var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = inputs, ["hidden"] = new JArray(hidden ?? [96, 48]), ["outputs"] = outputs });
        return ArchitectureRegistry.CreateModel(spec, Kinds(kinds));
    }

    /// <summary>A CNN (1 → 8 → 16 channels, 3×3, head 10) with seeded weights.</summary>
    /// <param name="seed">The initialisation seed.</param>
    /// <param name="kinds">Layer kinds besides the layers library's.</param>
    public static CompressibleModel Cnn(int seed = 0, IEnumerable<ILayerKind>? kinds = null)
    {
        manual_seed(seed);
        var spec = ArchitectureRegistry.Spec("cnn", new JObject { ["inChannels"] = 1, ["channels"] = new JArray(8, 16), ["outputs"] = 10 });
        return ArchitectureRegistry.CreateModel(spec, Kinds(kinds));
    }

    /// <summary>A seeded batch of inputs of <paramref name="shape"/> from N(0, 1).</summary>
    public static Tensor Inputs(long[] shape, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    internal static LayerKindSet Kinds(IEnumerable<ILayerKind>? kinds) => new LayerKindSet(BuiltInLayerKinds.All).With(kinds ?? []);
}
