using Compressor.Sdk.Compression;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Layers;

/// <summary>A 2-D convolution whose weight [out, in/groups, kh, kw] is a grouped codebook over output channels (rows)
/// and their flattened in/groups·kh·kw weights (see <see cref="CodebookLayer"/>).</summary>
public sealed class CodebookConv2d : CodebookLayer
{
    /// <summary>The layer kind id.</summary>
    public const string KindId = "codebook_conv2d";

    private readonly long[] _kernel, _stride, _padding, _dilation;
    private readonly long _inChannels, _convGroups;

    /// <summary>Creates an empty layer (all indices 0).</summary>
    public CodebookConv2d(long inChannels, long outChannels, long[] kernel, long[] stride, long[] padding, long[] dilation, long convGroups,
        int indexBits, long groups, CodebookVariant variant, bool permuted, bool hasBias)
        : base(nameof(CodebookConv2d), outChannels, inChannels / Math.Max(1, convGroups) * kernel[0] * kernel[1], indexBits, groups, variant, permuted, hasBias)
    {
        if (convGroups < 1 || inChannels % convGroups != 0 || outChannels % convGroups != 0)
            throw new CompressException(ErrorKind.InvalidInput, $"CodebookConv2d: groups {convGroups} must divide {inChannels} and {outChannels}");
        _inChannels = inChannels; _convGroups = convGroups;
        _kernel = kernel; _stride = stride; _padding = padding; _dilation = dilation;
    }

    /// <summary>Builds the layer from a convolution's geometry and indices [out, in/groups·kh·kw] (stored row order);
    /// the other arguments as in <see cref="CodebookLinear.FromIndices"/>.</summary>
    public static CodebookConv2d FromIndices(TorchSharp.Modules.Conv2d like, Tensor indices, int indexBits, long groups, CodebookVariant variant,
        Tensor codebooks, Tensor? scales, Tensor? rowOrder, Tensor? bias)
    {
        var layer = new CodebookConv2d(like.in_channels, like.out_channels, like.kernel_size, like.stride, like.padding, like.dilation, like.groups,
            indexBits, groups, variant, rowOrder is not null, bias is not null);
        layer.SetState(indices, codebooks, scales, rowOrder, bias);
        return layer;
    }

    /// <inheritdoc/>
    public override string Kind => KindId;

    /// <inheritdoc/>
    public override long[] DenseWeightShape => [Rows, _inChannels / _convGroups, _kernel[0], _kernel[1]];

    /// <summary>Kernel [kh, kw].</summary>
    public IReadOnlyList<long> KernelSize => _kernel;

    /// <summary>Stride [sh, sw].</summary>
    public IReadOnlyList<long> Stride => _stride;

    /// <summary>Padding [ph, pw].</summary>
    public IReadOnlyList<long> Padding => _padding;

    /// <summary>Dilation [dh, dw].</summary>
    public IReadOnlyList<long> Dilation => _dilation;

    /// <summary>Convolution groups.</summary>
    public long ConvGroups => _convGroups;

    /// <inheritdoc/>
    public override JObject Config
    {
        get
        {
            var c = CommonConfig();
            c["inChannels"] = _inChannels;
            c["outChannels"] = Rows;
            c["kernel"] = new JArray(_kernel);
            c["stride"] = new JArray(_stride);
            c["padding"] = new JArray(_padding);
            c["dilation"] = new JArray(_dilation);
            c["convGroups"] = _convGroups;
            return c;
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var w = DenseWeight();
        return nn.functional.conv2d(input, w, Bias, _stride, _padding, _dilation, _convGroups);
    }

    /// <summary>Rebuilds <see cref="CodebookConv2d"/> layers from manifest configs.</summary>
    public sealed class Factory : ICompressedLayerFactory
    {
        /// <inheritdoc/>
        public string Kind => KindId;

        /// <inheritdoc/>
        public nn.Module Create(JObject c) => new CodebookConv2d(Read(c, "inChannels", 1), Read(c, "outChannels", 1),
            ReadArray(c, "kernel", 2), ReadArray(c, "stride", 2), ReadArray(c, "padding", 2), ReadArray(c, "dilation", 2), Read(c, "convGroups", 1),
            (int)Read(c, "bits", 1), Read(c, "groups", 1), ReadVariant(c), ReadBool(c, "permuted"), ReadBool(c, "bias"));
    }
}
