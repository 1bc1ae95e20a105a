using Compressor.Sdk;
using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Geometry;

/// <summary>The module half of a layer kind made of a weight representation and a <see cref="WeightGeometry"/>: a
/// representation (a derived class) stores its matrix [rows, columns] in its own buffers and decodes it
/// (<see cref="DenseMatrix"/>); this base applies it as the geometry says — linear, convolution, or embedding lookup —
/// and holds the float32 bias (buffer <c>bias</c>). So a representation is written once for every geometry.</summary>
public abstract class GeometricLayer : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>Creates the layer; the derived class registers its buffers, then calls <see cref="RegisterBias(Device?)"/>.</summary>
    /// <exception cref="CompressException">Invalid sizes (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    protected GeometricLayer(string name, WeightGeometry geometry) : base(name)
    {
        if (geometry is Conv2dGeometry conv && !conv.IsValid(out var problem))
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: {problem}");
        if (geometry.Rows < 1 || geometry.Columns < 1)
            throw new CompressException(ErrorKind.InvalidInput, $"{name}: invalid weight shape [{string.Join(", ", geometry.DenseShape)}]");
        Geometry = geometry;
    }

    /// <summary>What the weight stands for and how it is applied.</summary>
    public WeightGeometry Geometry { get; }

    /// <summary>Rows of the weight matrix (output channels, or the vocabulary).</summary>
    public long Rows => Geometry.Rows;

    /// <summary>Weights per row.</summary>
    public long Columns => Geometry.Columns;

    /// <summary>The bias (float32 [rows]), or null.</summary>
    public Tensor? Bias => Geometry.HasBias ? get_buffer("bias") : null;

    /// <summary>Registers the zero bias buffer when the geometry has one (call after the representation's buffers, so
    /// the stored order is representation first, then bias).</summary>
    protected void RegisterBias() => RegisterBias(null);

    /// <summary><see cref="RegisterBias()"/> on <paramref name="device"/> (null: TorchSharp's default device).</summary>
    private protected void RegisterBias(Device? device)
    {
        if (Geometry.HasBias) register_buffer("bias", zeros(Rows, device: device).DetachFromDisposeScope());
    }

    /// <summary>Copies <paramref name="bias"/> into the bias buffer (nothing when null).</summary>
    /// <exception cref="ArgumentException">A bias for a layer without one, or of the wrong shape.</exception>
    protected void SetBias(Tensor? bias)
    {
        if (bias is null) return;
        if (Bias is not { } b) throw new ArgumentException($"{GetType().Name}: the geometry has no bias");
        if (bias.numel() != Rows) throw new ArgumentException($"{GetType().Name}: the bias needs {Rows} entries");
        using var noGrad = no_grad();
        b.copy_(bias.reshape(Rows));
    }

    /// <summary>The weight matrix [rows, columns] this layer computes with, in float32 (a new tensor).</summary>
    public abstract Tensor DenseMatrix();

    /// <summary>The dequantized rows [n, columns] of the given int64 row indices [n] (an embedding lookup). The default
    /// decodes the whole matrix; representations that can decode single rows override it.</summary>
    protected virtual Tensor DenseRows(Tensor rowIndices)
    {
        using var m = DenseMatrix();
        return m.index_select(0, rowIndices);
    }

    /// <inheritdoc/>
    public abstract string Kind { get; }

    /// <inheritdoc/>
    public abstract object Config { get; }

    /// <inheritdoc/>
    public long[] DenseWeightShape => Geometry.DenseShape;

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var m = DenseMatrix();
        return m.reshape(Geometry.DenseShape);
    }

    /// <inheritdoc/>
    public abstract long WeightStorageBits { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (Geometry is EmbeddingGeometry) return Lookup(input);
        using var w = DenseWeight();
        return Geometry.Apply(input, w, Bias);
    }

    /// <summary>The rows of <paramref name="indices"/> (int64, any shape, each in [0, rows)): [..., columns].</summary>
    private Tensor Lookup(Tensor indices)
    {
        using var scope = NewDisposeScope();
        if (indices.numel() > 0 && (indices.min().item<long>() < 0 || indices.max().item<long>() >= Rows))
            throw new CompressException(ErrorKind.InvalidInput, $"{GetType().Name}: index outside [0, {Rows})");
        var rows = DenseRows(indices.flatten().to_type(ScalarType.Int64));
        return rows.reshape([.. indices.shape, Columns]).MoveToOuterDisposeScope();
    }
}
