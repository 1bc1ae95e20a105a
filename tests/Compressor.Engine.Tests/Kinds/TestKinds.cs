using Compressor.Engine.Kinds;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The test-only layer kinds, handed to the engine as a third party's would be, and quantizers that put them
/// into models.</summary>
internal static class TestKinds
{
    /// <summary>Every test kind: <see cref="TestQuantizedLinearKind"/>, <see cref="TestQuantizedConv2dKind"/>,
    /// <see cref="FakeQuantLinearKind"/>.</summary>
    public static LayerKindSet All { get; } = new([new TestQuantizedLinearKind(), new TestQuantizedConv2dKind(), new FakeQuantLinearKind()]);

    /// <summary>Replaces every linear (and conv) layer of <paramref name="model"/> by its test-quantized form:
    /// symmetric, <paramref name="bits"/> bits, groups of <paramref name="groupSize"/> inputs for linears (0: per
    /// output channel), per output channel for convs.</summary>
    public static void Quantize(CompressibleModel model, int bits, int groupSize)
    {
        foreach (var layer in model.Select(LayerType.Linear | LayerType.Conv2d, LayerSelector.All))
        {
            using var scope = NewDisposeScope();
            nn.Module replacement = layer.Module switch
            {
                TorchSharp.Modules.Linear l => TestQuantizedLinear.Quantize(l.weight!.detach(), l.bias?.detach(), bits, groupSize),
                TorchSharp.Modules.Conv2d c => TestQuantizedConv2d.Quantize(c, bits),
                _ => throw new InvalidOperationException(),
            };
            model.ReplaceLayer(layer.Name, replacement);
        }
    }
}
