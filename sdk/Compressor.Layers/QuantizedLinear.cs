using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>A linear layer whose weight [out, in] is stored as packed 2/4/8-bit integer codes with per-group
/// scales along the input dimension (see <see cref="GroupQuantizedLayer"/>). Forward: x·Wᵀ + b with W dequantized.</summary>
public sealed class QuantizedLinear : GroupQuantizedLayer
{
    /// <summary>The layer kind id.</summary>
    public const string KindId = "quantized_linear";

    /// <summary>Creates an empty layer (zero codes); fill it with <see cref="FromCodes"/> or by loading tensors.</summary>
    public QuantizedLinear(long inFeatures, long outFeatures, int bits, int groupSize, bool symmetric, bool hasBias)
        : base(nameof(QuantizedLinear), outFeatures, inFeatures, bits, groupSize, symmetric, hasBias) { }

    /// <summary>Builds the layer from integer codes [out, in], scales [out, groups], zero points [out, groups]
    /// (asymmetric only) and an optional bias.</summary>
    public static QuantizedLinear FromCodes(Tensor codes, Tensor scales, Tensor? zeroPoints, int bits, int groupSize, Tensor? bias)
    {
        var layer = new QuantizedLinear(codes.shape[1], codes.shape[0], bits, groupSize, zeroPoints is null, bias is not null);
        layer.SetState(codes, scales, zeroPoints, bias);
        return layer;
    }

    /// <summary>Input features.</summary>
    public long InFeatures => Cols;

    /// <summary>Output features.</summary>
    public long OutFeatures => Rows;

    /// <inheritdoc/>
    public override string Kind => KindId;

    /// <inheritdoc/>
    public override long[] DenseWeightShape => [Rows, Cols];

    /// <inheritdoc/>
    public override JObject Config
    {
        get
        {
            var c = CommonConfig();
            c["inFeatures"] = Cols;
            c["outFeatures"] = Rows;
            return c;
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var w = DenseMatrix();
        return nn.functional.linear(input, w, Bias);
    }

    /// <summary>Rebuilds <see cref="QuantizedLinear"/> layers from manifest configs.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject c) => new QuantizedLinear(Read(c, "inFeatures", 1), Read(c, "outFeatures", 1),
            (int)Read(c, "bits", 1), (int)Read(c, "groupSize"), ReadBool(c, "symmetric"), ReadBool(c, "bias"));
    }
}
