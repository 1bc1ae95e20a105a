using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Folds the BatchNormalization that reads a convolution's output into the convolution
/// (<see cref="Compressor.Sdk.Models.CompressibleModel.FoldOutputNormalization"/>): with a = γ/√(σ² + ε) per channel,
/// the weight rows (and bias) are multiplied by a, and the normalisation keeps only its shift β − a·μ (γ = 1, μ = 0,
/// σ² = 1 − ε, so that it adds the shift and nothing else). The model computes the same function; the convolution's
/// output then has the normalised channels' common range, which one static output grid (QLinearConv) can hold. The
/// convolution's output must be read by that normalisation only; its parameters must be stored buffers of [C].</summary>
internal static class OnnxNormalizationFold
{
    public static string? Fold(OnnxModule module, string layer)
    {
        var use = module.LayerUses.FirstOrDefault(u => u.Path == layer);
        if (use is null || module.ResolveLayer(layer) is not TorchSharp.Modules.Conv2d conv) return null;
        var nodes = module.GraphWithoutWeights().Graph.Node;
        var readers = nodes.Where(n => n.OpType != "Shape" && n.Input.Contains(use.Output)).ToList();
        if (readers.Count != 1 || readers[0] is not { OpType: "BatchNormalization" } bn || bn.Input.Count < 5 || bn.Input[0] != use.Output) return null;
        if (bn.Attribute.Any(a => a.Name == "training_mode" && a.I != 0)) return null;
        long channels = conv.weight!.shape[0];
        var gamma = Buffer(module, bn.Input[1], channels);
        var beta = Buffer(module, bn.Input[2], channels);
        var mean = Buffer(module, bn.Input[3], channels);
        var variance = Buffer(module, bn.Input[4], channels);
        if (gamma is null || beta is null || mean is null || variance is null) return null;
        float eps = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = gamma.to_type(ScalarType.Float64).div(variance.to_type(ScalarType.Float64).add(eps).sqrt());
        var w = conv.weight!;
        w.copy_(w.to_type(ScalarType.Float64).mul(a.to(w.device).reshape(-1, 1, 1, 1)).to_type(w.dtype));
        if (conv.bias is { } b) b.copy_(b.to_type(ScalarType.Float64).mul(a.to(b.device)).to_type(b.dtype));
        var shift = beta.to_type(ScalarType.Float64).sub(a.mul(mean.to_type(ScalarType.Float64)));
        beta.copy_(shift.to_type(beta.dtype).reshape(beta.shape));
        gamma.fill_(1);
        mean.fill_(0);
        variance.fill_(1 - eps);
        return bn.Name.Length > 0 ? bn.Name : bn.OpType;
    }

    /// <summary>The stored buffer of initializer <paramref name="initializer"/> when it is a float vector of
    /// <paramref name="channels"/> entries, else null.</summary>
    private static Tensor? Buffer(OnnxModule module, string initializer, long channels)
    {
        if (!module.BufferOfInitializer.TryGetValue(initializer, out var bufferName)) return null;
        foreach (var (n, t) in module.named_buffers())
            if (n == bufferName)
                return t.is_floating_point() && t.numel() == channels ? t : null;
        return null;
    }
}
