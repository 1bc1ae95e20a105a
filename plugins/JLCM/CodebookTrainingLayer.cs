using static TorchSharp.torch;

namespace Compressor.Plugins.JLCM;

/// <summary>Stands in for a Linear or Conv2d layer while its block learns: computes the layer with the weight
/// <see cref="Weight"/> (set before each forward: the codebook's current Ŵ as a leaf that collects g = dL/dŴ) and the
/// original layer's bias, stride, padding and dilation. Ŵ is in stored row order; a stored (unfolded) permutation is
/// undone here (original row j = stored row rowOrder[j]) and the bias stays in original order, as in the final
/// codebook layer. Held, not registered: disposing the wrapper leaves the layer.</summary>
public sealed class CodebookTrainingLayer(nn.Module<Tensor, Tensor> original, Tensor? rowOrder) : nn.Module<Tensor, Tensor>(nameof(CodebookTrainingLayer))
{
    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> Original => original;

    /// <summary>Ŵ [O, I] (stored order, flattened for a convolution), set by the learner before each forward.</summary>
    public Tensor? Weight { get; set; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var w = Weight ?? throw new InvalidOperationException("the learner sets the weight before a forward");
        using var scope = NewDisposeScope();
        if (rowOrder is not null) w = w.index_select(0, rowOrder);
        Tensor y = original switch
        {
            TorchSharp.Modules.Linear l => nn.functional.linear(input, w, l.bias),
            TorchSharp.Modules.Conv2d c => nn.functional.conv2d(input, w.reshape(c.weight!.shape), c.bias,
                strides: [c.stride[0], c.stride[1]], padding: [c.padding![0], c.padding[1]], dilation: [c.dilation[0], c.dilation[1]], groups: c.groups),
            _ => throw new ArgumentException($"no codebook training for {original.GetType().Name}"),
        };
        return y.MoveToOuterDisposeScope();
    }
}
