using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Stands in for a Linear or Conv2d layer while its block learns: computes the layer with the weight
/// <see cref="Weight"/> (set before each forward: the codebook's current Ŵ as a leaf that collects g = dL/dŴ) and the
/// original layer's bias, stride, padding and dilation. Ŵ is in stored row order; a stored (unfolded) permutation is
/// undone here (original row j = stored row rowOrder[j]) and the bias stays in original order, as in the final
/// codebook layer. It can also carry a bias correction and measure the mean output difference to the FP layer
/// (<see cref="BlockLearner.CorrectBiases"/>). Held, not registered: disposing the wrapper leaves the layer.</summary>
public sealed class CodebookTrainingLayer(nn.Module<Tensor, Tensor> original, Tensor? rowOrder) : nn.Module<Tensor, Tensor>(nameof(CodebookTrainingLayer))
{
    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> Original => original;

    /// <summary>Ŵ [O, I] (stored order, flattened for a convolution), set by the learner before each forward.</summary>
    public Tensor? Weight { get; set; }

    /// <summary>Added to the bias (or used as the bias where the layer has none) [O], original row order; null: none.</summary>
    public Tensor? BiasCorrection { get; set; }

    /// <summary>When set, each forward also runs the FP layer on the same input and adds to it the per-channel sum of
    /// (FP output − this output) over every other dimension; <see cref="DifferenceCount"/> counts the values summed
    /// per channel.</summary>
    public Tensor? DifferenceSum { get; set; }

    /// <summary>Values summed per channel into <see cref="DifferenceSum"/>.</summary>
    public long DifferenceCount { get; set; }

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
        if (BiasCorrection is { } correction)
            y = original is TorchSharp.Modules.Conv2d ? y.add(correction.reshape(1, -1, 1, 1)) : y.add(correction);
        if (DifferenceSum is { } sum)
        {
            using var noGrad = no_grad();
            var d = original.forward(input).sub(y);
            int channel = original is TorchSharp.Modules.Conv2d ? 1 : (int)d.dim() - 1;
            var dims = Enumerable.Range(0, (int)d.dim()).Where(i => i != channel).Select(i => (long)i).ToArray();
            sum.add_(d.sum(dims));
            DifferenceCount += d.numel() / d.shape[channel];
        }
        return y.MoveToOuterDisposeScope();
    }
}
