using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Tests.Kinds;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>Small, seeded built-in models (copied from the conformance kit, which is not migrated yet): the same seed
/// gives the same weights. They are loaded with the test-only layer kinds (<see cref="TestKinds.All"/>).</summary>
internal static class TinyModels
{
    /// <summary>An MLP 64 → 96 → 48 → 10 (digits-sized) with seeded weights.</summary>
    public static EngineModel Mlp(int seed = 0, int inputs = 64, int[]? hidden = null, int outputs = 10)
    {
        manual_seed(seed);
        var spec = ArchitectureRegistry.Spec("mlp", new JObject { ["inputs"] = inputs, ["hidden"] = new JArray(hidden ?? [96, 48]), ["outputs"] = outputs });
        return ArchitectureRegistry.CreateModel(spec, TestKinds.All);
    }

    /// <summary>A CNN (1 → 8 → 16 channels, 3×3, head 10) with seeded weights.</summary>
    public static EngineModel Cnn(int seed = 0)
    {
        manual_seed(seed);
        var spec = ArchitectureRegistry.Spec("cnn", new JObject { ["inChannels"] = 1, ["channels"] = new JArray(8, 16), ["outputs"] = 10 });
        return ArchitectureRegistry.CreateModel(spec, TestKinds.All);
    }

    /// <summary>A seeded batch of inputs of <paramref name="shape"/> from N(0, 1).</summary>
    public static Tensor Inputs(long[] shape, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }
}
