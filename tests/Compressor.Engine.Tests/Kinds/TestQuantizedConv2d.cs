using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The config of <see cref="TestQuantizedConv2d"/>.</summary>
public sealed record TestQuantizedConv2dConfig(int InChannels, int OutChannels, long[] Kernel, long[] Stride, long[] Padding, long[] Dilation,
    int Groups, int Bits, bool Bias);

/// <summary>A test-only compressed 2-D convolution: signed integer codes [out, in/groups, kh, kw] with one float scale
/// per output channel, and an optional float bias (zero padding, symmetric).</summary>
public sealed class TestQuantizedConv2d : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>The kind id.</summary>
    public const string KindId = "test_quantized_conv2d";

    /// <summary>An empty layer of <paramref name="config"/>.</summary>
    /// <exception cref="ArgumentException">Bad geometry or bits.</exception>
    public TestQuantizedConv2d(TestQuantizedConv2dConfig config) : base(nameof(TestQuantizedConv2d))
    {
        if (config.Bits is not (8 or 4)) throw new ArgumentException($"bits must be 8 or 4, got {config.Bits}");
        if (config.Groups < 1 || config.InChannels % config.Groups != 0) throw new ArgumentException($"groups {config.Groups} do not divide {config.InChannels} channels");
        foreach (var a in new[] { config.Kernel, config.Stride, config.Padding, config.Dilation })
            if (a.Length != 2) throw new ArgumentException("kernel, stride, padding and dilation need two values");
        TypedConfig = config;
        register_buffer("codes", zeros([config.OutChannels, config.InChannels / config.Groups, config.Kernel[0], config.Kernel[1]], ScalarType.Int8).DetachFromDisposeScope());
        register_buffer("scales", zeros(config.OutChannels).DetachFromDisposeScope());
        if (config.Bias) register_buffer("bias", zeros(config.OutChannels).DetachFromDisposeScope());
    }

    /// <summary>Quantizes <paramref name="conv"/>'s weight per output channel.</summary>
    public static TestQuantizedConv2d Quantize(TorchSharp.Modules.Conv2d conv, int bits)
    {
        var w = conv.weight!.detach();
        var layer = new TestQuantizedConv2d(new TestQuantizedConv2dConfig((int)(w.shape[1] * conv.groups), (int)w.shape[0], conv.kernel_size.ToArray(),
            conv.stride.ToArray(), conv.padding!.ToArray(), conv.dilation.ToArray(), (int)conv.groups, bits, conv.bias is not null));
        using var flat = w.reshape(w.shape[0], -1);
        var (codes, scales) = TestPacking.Quantize(flat, bits, 0);
        using (codes)
        using (scales)
        using (no_grad())
        {
            layer.Codes.copy_(codes.reshape(w.shape));
            layer.Scales.copy_(scales.reshape(-1));
            if (conv.bias is not null) layer.Bias!.copy_(conv.bias.detach());
        }
        return layer;
    }

    /// <summary>The typed config.</summary>
    public TestQuantizedConv2dConfig TypedConfig { get; }

    /// <summary>The codes (int8).</summary>
    public Tensor Codes => get_buffer("codes")!;

    /// <summary>The scales [out].</summary>
    public Tensor Scales => get_buffer("scales")!;

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => TypedConfig.Bias ? get_buffer("bias") : null;

    /// <inheritdoc/>
    public string Kind => KindId;

    /// <inheritdoc/>
    public object Config => TypedConfig;

    /// <inheritdoc/>
    public long[] DenseWeightShape => Codes.shape;

    /// <inheritdoc/>
    public long WeightStorageBits => Codes.numel() * TypedConfig.Bits + TypedConfig.OutChannels * 32L;

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var scope = NewDisposeScope();
        return Codes.to_type(ScalarType.Float32).mul(Scales.reshape(-1, 1, 1, 1)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var c = TypedConfig;
        using var w = DenseWeight();
        return nn.functional.conv2d(input, w, Bias, c.Stride, c.Padding, c.Dilation, c.Groups);
    }
}

/// <summary>The kind of <see cref="TestQuantizedConv2d"/>: DequantizeLinear of the codes per output channel (axis 0;
/// opset 13 for 8 bits, 21 for 4) → Conv.</summary>
public sealed class TestQuantizedConv2dKind : LayerKind<TestQuantizedConv2d, TestQuantizedConv2dConfig>
{
    /// <inheritdoc/>
    public override string Id => TestQuantizedConv2d.KindId;

    /// <inheritdoc/>
    public override TestQuantizedConv2d Create(TestQuantizedConv2dConfig config) => new(config);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, TestQuantizedConv2d layer, string input, string output)
    {
        var c = layer.TypedConfig;
        int type = OnnxDataType.Integer(c.Bits, signed: true);
        context.RequireOpset("", OnnxDataType.MinimumOpset(type));
        string codes = context.UniqueName("codes");
        context.AddInitializer(new OnnxInitializer(codes, type, layer.Codes.shape, TestPacking.Pack(layer.Codes, c.Bits)));
        string scales = context.UniqueName("scales");
        context.AddInitializer(TestQuantizedLinearKind.Float(scales, layer.Scales));
        string weight = context.UniqueName("weight");
        context.AddNode("DequantizeLinear", [codes, scales], [weight], new Dictionary<string, object> { ["axis"] = 0L });
        var inputs = new List<string> { input, weight };
        if (layer.Bias is { } bias)
        {
            string b = context.UniqueName("bias");
            context.AddInitializer(TestQuantizedLinearKind.Float(b, bias));
            inputs.Add(b);
        }
        context.AddNode("Conv", inputs, [output], new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["dilations"] = c.Dilation, ["group"] = (long)c.Groups, ["kernel_shape"] = c.Kernel,
            ["pads"] = new[] { c.Padding[0], c.Padding[1], c.Padding[0], c.Padding[1] }, ["strides"] = c.Stride,
        });
    }
}
