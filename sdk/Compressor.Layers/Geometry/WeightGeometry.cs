using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Layers.Geometry;

/// <summary>What a compressed weight stands for and how the layer applies it: the geometry half of a layer kind
/// (the other half is the weight's representation: group-quantized codes, a codebook, …). A geometry sees the weight
/// as a matrix [<see cref="Rows"/>, <see cref="Columns"/>] — a linear's [out, in], a convolution's [out,
/// in/groups·kh·kw], an embedding's [vocabulary, dim] — so every representation stores and decodes matrices only. Its
/// fields are part of the kind's config (the file format): they are written flat beside the representation's.</summary>
public abstract record WeightGeometry
{
    /// <summary>The geometry's name in kind ids (<c>linear</c>, <c>conv2d</c>, <c>embedding</c>): a kind id is the
    /// representation's name, an underscore and this.</summary>
    [JsonIgnore] public abstract string Id { get; }

    /// <summary>Rows of the weight matrix: output channels, or the vocabulary of an embedding.</summary>
    [JsonIgnore] public abstract long Rows { get; }

    /// <summary>Weights per row.</summary>
    [JsonIgnore] public abstract long Columns { get; }

    /// <summary>The dense weight's shape as the uncompressed layer holds it.</summary>
    [JsonIgnore] public abstract long[] DenseShape { get; }

    /// <summary>Whether the layer adds a floating-point bias [<see cref="Rows"/>].</summary>
    [JsonIgnore] public abstract bool HasBias { get; }

    /// <summary>The layer's output for <paramref name="input"/>, given the dense weight in <see cref="DenseShape"/>.</summary>
    public abstract Tensor Apply(Tensor input, Tensor weight, Tensor? bias);

    /// <summary>The geometry of an uncompressed linear, conv2d or embedding layer.</summary>
    /// <exception cref="ArgumentException">Another kind of module.</exception>
    public static WeightGeometry Of(nn.Module layer) => layer switch
    {
        TorchSharp.Modules.Linear l => LinearGeometry.Of(l),
        TorchSharp.Modules.Conv2d c => Conv2dGeometry.Of(c),
        TorchSharp.Modules.Embedding e => EmbeddingGeometry.Of(e),
        _ => throw new ArgumentException($"no weight geometry for a {layer.GetType().Name}", nameof(layer)),
    };
}
