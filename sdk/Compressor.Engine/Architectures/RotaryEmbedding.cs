using Compressor.Engine.Onnx.Export;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>Rotary position embeddings as Hugging Face computes them for the Llama family: inverse frequencies
/// θ^(−2i/d) in float32 (i &lt; d/2), adjusted by the config's <c>rope_scaling</c> (<c>linear</c>: divided by the factor;
/// <c>llama3</c>: long wavelengths divided by the factor, a smooth blend between <c>low_freq_factor</c> and
/// <c>high_freq_factor</c>; <c>dynamic</c>: unchanged up to the original context, which is then the longest sequence
/// accepted); angles position·inv_freq repeated twice along the head, and x·cos + rotate_half(x)·sin with
/// rotate_half(x) = [−x₂, x₁].</summary>
public sealed class RotaryEmbedding
{
    /// <summary>The <c>rope_scaling</c> types this implementation follows.</summary>
    public static readonly string[] ScalingTypes = ["default", "linear", "llama3", "dynamic"];

    private readonly float[] _inverseFrequencies;

    /// <summary>Builds the frequencies for heads of width <paramref name="headDim"/>.</summary>
    /// <exception cref="CompressException">An unsupported or malformed <c>rope_scaling</c>.</exception>
    public RotaryEmbedding(int headDim, double theta, JObject? scaling, int maxPositions)
    {
        HeadDim = headDim;
        MaxPositions = maxPositions;
        using var scope = NewDisposeScope();
        // On the CPU whatever the default device (a model declared on the meta device still needs the numbers).
        var inv = tensor(1.0f, device: CPU).div(pow(tensor((float)theta, device: CPU), arange(0, headDim, 2, dtype: ScalarType.Int64, device: CPU).to_type(ScalarType.Float32).div(headDim)));
        string type = scaling is null ? "default" : (string?)(scaling["rope_type"] ?? scaling["type"]) ?? "default";
        double Number(string key) => scaling?[key] is { Type: JTokenType.Float or JTokenType.Integer } t ? (double)t
            : throw new CompressException(ErrorKind.InvalidInput, $"config 'rope_scaling.{key}' must be a number for rope type '{type}'");
        switch (type)
        {
            case "default":
                break;
            case "linear":
                inv = inv.div(Number("factor"));
                break;
            case "dynamic":
                Number("factor");
                break;
            case "llama3":
            {
                double factor = Number("factor"), low = Number("low_freq_factor"), high = Number("high_freq_factor");
                double old = Number("original_max_position_embeddings");
                double lowWavelength = old / low, highWavelength = old / high;
                var wavelength = inv.reciprocal().mul(2 * Math.PI);
                var scaled = where(wavelength.gt(lowWavelength), inv.div(factor), inv);
                var smooth = wavelength.reciprocal().mul(old).sub(low).div(high - low);
                var smoothed = smooth.neg().add(1).mul(scaled).div(factor).add(smooth.mul(scaled));
                var medium = wavelength.lt(highWavelength).logical_not().logical_and(wavelength.gt(lowWavelength).logical_not());
                inv = where(medium, smoothed, scaled);
                break;
            }
            default:
                throw new CompressException(ErrorKind.InvalidInput, $"config 'rope_scaling' type '{type}' is not supported (supported: {string.Join(", ", ScalingTypes)})");
        }
        _inverseFrequencies = inv.to_type(ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>Head width d.</summary>
    public int HeadDim { get; }

    /// <summary>The longest sequence accepted.</summary>
    public int MaxPositions { get; }

    /// <summary>cos and sin [T, d] for positions 0 … T−1.</summary>
    public (Tensor Cos, Tensor Sin) Angles(long length, Device device)
    {
        if (length > MaxPositions)
            throw new CompressException(ErrorKind.InvalidInput, $"sequence of {length} tokens exceeds max_position_embeddings {MaxPositions}");
        using var scope = NewDisposeScope();
        var inv = tensor(_inverseFrequencies, device: device);
        var positions = arange(length, dtype: ScalarType.Int64, device: device).to_type(ScalarType.Float32);
        var freqs = positions.unsqueeze(1).mul(inv.unsqueeze(0));
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin for heads x [B, H, T, d].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat([x[.., .., .., (int)half..].neg(), x[.., .., .., ..(int)half]], -1);
        return x.mul(cos).add(rotated.mul(sin)).MoveToOuterDisposeScope();
    }

    /// <summary>ONNX: cos and sin [T, d] for the length of axis 1 of <paramref name="ids"/>.</summary>
    public (string Cos, string Sin) Angles(IOnnxExportContext c, string ids)
    {
        string length = c.AddNode("Squeeze", TransformerOnnx.Dim(c, ids, 1), c.Int64Constant(0));
        string positions = c.AddNode("Range", c.AddTensor("rope_zero", tensor(0L)), length, c.AddTensor("rope_one", tensor(1L)));
        string p = c.AddNode("Unsqueeze", c.AddNode("Cast", [positions], [c.UniqueName("Cast")], new Dictionary<string, object> { ["to"] = 1L }), c.Int64Constant(1));
        using var inv = tensor(_inverseFrequencies).unsqueeze(0);
        string freqs = c.AddNode("Mul", p, c.AddTensor("rope_inv_freq", inv));
        string emb = c.AddNode("Concat", [freqs, freqs], [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = -1L });
        return (c.AddNode("Cos", emb), c.AddNode("Sin", emb));
    }

    /// <summary>ONNX: x·cos + rotate_half(x)·sin.</summary>
    public static string Apply(IOnnxExportContext c, string x, string cos, string sin, long headDim)
    {
        long half = headDim / 2;
        string first = c.AddNode("Slice", x, c.Int64Constant(0), c.Int64Constant(half), c.Int64Constant(-1));
        string second = c.AddNode("Slice", x, c.Int64Constant(half), c.Int64Constant(headDim), c.Int64Constant(-1));
        string rotated = c.AddNode("Concat", [c.AddNode("Neg", second), first], [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = -1L });
        return c.AddNode("Add", c.AddNode("Mul", x, cos), c.AddNode("Mul", rotated, sin));
    }
}
