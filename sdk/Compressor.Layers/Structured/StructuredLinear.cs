using Compressor.Layers.Geometry;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Structured;

/// <summary>A linear layer N → M whose weight is a product of smaller factors (low-rank, block-diagonal with
/// shuffles, …): y = S(x) + b with S linear and without nonlinearity, so the dense matrix it stands for can always be
/// materialised (<see cref="DenseWeight"/>, the "pre-merged" form). The factors are trainable parameters; the
/// bias, when present, is the parameter <c>bias</c>.</summary>
public abstract class StructuredLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates the common part: sizes and an optional zero bias.</summary>
    protected StructuredLinear(string name, long inFeatures, long outFeatures, bool hasBias) : this(name, inFeatures, outFeatures, hasBias, null)
    {
    }

    /// <summary>The common part with its bias on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    private protected StructuredLinear(string name, long inFeatures, long outFeatures, bool hasBias, Device? device) : base(name)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: sizes must be positive, got {inFeatures} → {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        if (hasBias)
        {
            Bias = NewParameter(device, outFeatures);
            register_parameter("bias", Bias);
        }
    }

    /// <summary>A zero parameter of <paramref name="shape"/> on <paramref name="device"/> (null: the default device) that
    /// outlives any dispose scope the layer is built in (the module owns it).</summary>
    internal static TorchSharp.Modules.Parameter NewParameter(Device? device, params long[] shape)
    {
        var p = nn.Parameter(zeros(shape, device: device).DetachFromDisposeScope());
        p.DetachFromDisposeScope();
        return p;
    }

    /// <summary>Input features N.</summary>
    public long InFeatures { get; }

    /// <summary>Output features M.</summary>
    public long OutFeatures { get; }

    /// <summary>The bias [M], or null.</summary>
    public TorchSharp.Modules.Parameter? Bias { get; }

    /// <summary>Export the materialised dense product instead of the factors (the pre-merge form for small token
    /// counts; plugins/Sparsity/README.md, "Pre-merge"). The checkpoint still holds the factors; only the ONNX lowering
    /// and the storage count change.</summary>
    public bool PreMerged { get; set; }

    /// <summary>The number of weights of the factors (the structured parameter count, bias excluded).</summary>
    public abstract long StructuredParameterCount { get; }

    /// <inheritdoc/>
    public abstract string Kind { get; }

    /// <inheritdoc/>
    public long[] DenseWeightShape => [OutFeatures, InFeatures];

    /// <summary>Float32 bits of what stands for the weight in the exported file: the factors, or the dense product
    /// when <see cref="PreMerged"/>.</summary>
    public long WeightStorageBits => 32 * (PreMerged ? InFeatures * OutFeatures : StructuredParameterCount);

    /// <inheritdoc/>
    public abstract object Config { get; }

    /// <summary>The linear geometry this layer stands for.</summary>
    public LinearGeometry Geometry => new(InFeatures, OutFeatures, Bias is not null);

    /// <summary>S(x) without the bias, for x of shape [..., N]; returns [..., M].</summary>
    public abstract Tensor ForwardStructured(Tensor x);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (Bias is null) return ForwardStructured(input);
        using var y = ForwardStructured(input);
        return y.add(Bias);
    }

    /// <summary>The dense matrix [M, N] the factors multiply to: S applied to the identity, transposed.</summary>
    public Tensor DenseWeight()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var p = parameters().First();
        var eye = torch.eye(InFeatures, dtype: p.dtype, device: p.device);
        return ForwardStructured(eye).t().contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Splits [..., F] into ([T, F] view, leading shape).</summary>
    protected static (Tensor Flat, long[] Leading) Flatten(Tensor x, long features)
    {
        if (x.shape.Length == 0 || x.shape[^1] != features)
            throw new CompressException(ErrorKind.InvalidInput, $"structured linear: expected inputs [..., {features}], got [{string.Join(", ", x.shape)}]");
        return (x.reshape(-1, features), x.shape[..^1]);
    }

    /// <summary>Copies <paramref name="value"/> into the parameter <paramref name="target"/> (shapes must match).</summary>
    protected static void Assign(TorchSharp.Modules.Parameter target, Tensor value, string what)
    {
        if (!target.shape.SequenceEqual(value.shape))
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: expected shape [{string.Join(", ", target.shape)}], got [{string.Join(", ", value.shape)}]");
        using var noGrad = no_grad();
        target.copy_(value);
    }

    /// <summary>Sets the bias (ignored when the layer has none and <paramref name="bias"/> is null).</summary>
    public void SetBias(Tensor? bias)
    {
        if (bias is null) return;
        if (Bias is null) throw new CompressException(ErrorKind.InvalidInput, "structured linear: the layer was built without a bias");
        Assign(Bias, bias, "bias");
    }
}
