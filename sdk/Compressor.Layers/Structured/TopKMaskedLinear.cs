using Compressor.Layers.Geometry;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>A dense linear with training-free input (activation) sparsity, as in WINA and TEAL: per token, score
/// every input s_i = |x_i|·c_i, keep the <see cref="Keep"/> highest-scoring inputs (those whose score reaches the
/// k-th largest), zero the rest, then y = W x_masked + b. WINA uses c_i = ‖W[:, i]‖₂ (the buffer
/// <c>column_scale</c>); TEAL uses c_i = 1 (no buffer). Ties at the k-th score keep every tied input, exactly as the
/// ONNX TopK → threshold lowering does.</summary>
public sealed class TopKMaskedLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates a layer with zero weights; <paramref name="weighted"/> adds the column scale (WINA).</summary>
    public TopKMaskedLinear(long inFeatures, long outFeatures, long keep, bool weighted, bool hasBias) : this(inFeatures, outFeatures, keep, weighted, hasBias, null)
    {
    }

    /// <summary>A layer with zero weights on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    internal TopKMaskedLinear(long inFeatures, long outFeatures, long keep, bool weighted, bool hasBias, Device? device) : base(nameof(TopKMaskedLinear))
    {
        if (inFeatures < 1 || outFeatures < 1 || keep < 1 || keep > inFeatures)
            throw new CompressException(ErrorKind.InvalidOptions, $"top-k masked linear: keep {keep} must lie in 1..{inFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Keep = keep;
        Weight = StructuredLinear.NewParameter(device, outFeatures, inFeatures);
        register_parameter("weight", Weight);
        if (hasBias)
        {
            Bias = StructuredLinear.NewParameter(device, outFeatures);
            register_parameter("bias", Bias);
        }
        if (weighted)
        {
            ColumnScale = zeros(inFeatures, device: device).DetachFromDisposeScope();
            register_buffer("column_scale", ColumnScale);
        }
    }

    /// <summary>Builds the layer from a dense weight [M, N], an optional bias, the number of inputs kept per
    /// token, and whether scores are weighted by the column norms of W (WINA) or not (TEAL); on the weight's device.</summary>
    public static TopKMaskedLinear FromDense(Tensor weight, Tensor? bias, long keep, bool weighted)
    {
        var layer = new TopKMaskedLinear(weight.shape[1], weight.shape[0], keep, weighted, bias is not null, weight.device);
        using var noGrad = no_grad();
        layer.Weight.copy_(weight);
        if (bias is not null) layer.Bias!.copy_(bias);
        if (weighted)
        {
            using var scope = NewDisposeScope();
            layer.ColumnScale!.copy_(weight.detach().square().sum([0L]).sqrt());
        }
        return layer;
    }

    /// <summary>Input features N.</summary>
    public long InFeatures { get; }

    /// <summary>Output features M.</summary>
    public long OutFeatures { get; }

    /// <summary>Inputs kept per token, k = (1 − sparsity)·N rounded.</summary>
    public long Keep { get; }

    /// <summary>The dense weight [M, N].</summary>
    public TorchSharp.Modules.Parameter Weight { get; }

    /// <summary>The bias [M], or null.</summary>
    public TorchSharp.Modules.Parameter? Bias { get; }

    /// <summary>‖W[:, i]‖₂ per input (WINA), or null (TEAL: plain |x|).</summary>
    public Tensor? ColumnScale { get; }

    /// <summary>The input sparsity 1 − k/N.</summary>
    public double Sparsity => 1.0 - (double)Keep / InFeatures;

    /// <inheritdoc/>
    public string Kind => TopKMaskedKind.KindId;

    /// <inheritdoc/>
    public object Config => new LayerConfig<TopKMaskedFormat, LinearGeometry>(new(Keep, ColumnScale is not null), new(InFeatures, OutFeatures, Bias is not null));

    /// <inheritdoc/>
    public long[] DenseWeightShape => [OutFeatures, InFeatures];

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var detached = Weight.detach();
        return detached.clone();
    }

    /// <summary>Float32 weight plus the column scale (WINA).</summary>
    public long WeightStorageBits => 32 * (InFeatures * OutFeatures + (ColumnScale is null ? 0 : InFeatures));

    /// <summary>The per-token keep mask (1 kept, 0 dropped) of <paramref name="x"/> [..., N].</summary>
    public Tensor Mask(Tensor x) => Mask(x, ColumnScale, Keep);

    /// <summary>The keep mask of scores |x|·scale (scale null: |x|): inputs whose score reaches the k-th largest of its token.</summary>
    public static Tensor Mask(Tensor x, Tensor? scale, long keep)
    {
        using var scope = NewDisposeScope();
        var score = scale is null ? x.abs() : x.abs().mul(scale);
        var kth = score.topk((int)keep, dim: -1, largest: true, sorted: true).values.narrow(-1, keep - 1, 1);
        return score.ge(kth).to_type(x.dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (Keep >= InFeatures) return nn.functional.linear(input, Weight, Bias);
        using var mask = Mask(input);
        using var masked = input.mul(mask);
        return nn.functional.linear(masked, Weight, Bias);
    }
}
