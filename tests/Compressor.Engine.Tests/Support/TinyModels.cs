using Compressor.Engine.Models;
using Compressor.Engine.Tests.Kinds;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>The conformance kit's tiny models, as engine models that know the test-only layer kinds
/// (<see cref="TestKinds.All"/>) — the engine's tests prove it works with kinds handed in by a third party.</summary>
internal static class TinyModels
{
    /// <summary>An MLP 64 → 96 → 48 → 10 (digits-sized) with seeded weights.</summary>
    public static EngineModel Mlp(int seed = 0, int inputs = 64, int[]? hidden = null, int outputs = 10) =>
        (EngineModel)Sdk.Testing.TinyModels.Mlp(seed, inputs, hidden, outputs, TestKinds.All);

    /// <summary>A CNN (1 → 8 → 16 channels, 3×3, head 10) with seeded weights.</summary>
    public static EngineModel Cnn(int seed = 0) => (EngineModel)Sdk.Testing.TinyModels.Cnn(seed, TestKinds.All);

    /// <summary>A seeded batch of inputs of <paramref name="shape"/> from N(0, 1).</summary>
    public static Tensor Inputs(long[] shape, int seed = 1) => Sdk.Testing.TinyModels.Inputs(shape, seed);
}
