using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Kinds;

/// <summary>The config of <see cref="TestQuantizedLinear"/> (config version 2; version 1 named the group size
/// <c>group</c>).</summary>
/// <param name="InFeatures">Input features.</param>
/// <param name="OutFeatures">Output features.</param>
/// <param name="Bits">Code width: 8, 4 or 2.</param>
/// <param name="GroupSize">Input features per scale (0: one scale per output row).</param>
/// <param name="Bias">Whether the layer has a float bias.</param>
public sealed record TestQuantizedLinearConfig(int InFeatures, int OutFeatures, int Bits, int GroupSize, bool Bias);

/// <summary>A test-only compressed linear layer, written as a third party would: signed integer codes [out, in] (one
/// per byte in memory; <see cref="Bits"/> each in storage and in ONNX), float scales [out, groups] and an optional
/// float bias. y = x·(codes·scale)ᵀ + b.</summary>
public sealed class TestQuantizedLinear : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    /// <summary>The kind id.</summary>
    public const string KindId = "test_quantized_linear";

    /// <summary>An empty layer of <paramref name="config"/>.</summary>
    /// <exception cref="ArgumentException">Sizes, bits or group size out of range.</exception>
    public TestQuantizedLinear(TestQuantizedLinearConfig config) : base(nameof(TestQuantizedLinear))
    {
        if (config.InFeatures < 1 || config.OutFeatures < 1) throw new ArgumentException($"sizes must be positive, got {config.InFeatures}x{config.OutFeatures}");
        if (config.Bits is not (8 or 4 or 2)) throw new ArgumentException($"bits must be 8, 4 or 2, got {config.Bits}");
        if (config.GroupSize < 0) throw new ArgumentException($"group size must be at least 0, got {config.GroupSize}");
        TypedConfig = config;
        register_buffer("codes", zeros(config.OutFeatures, config.InFeatures, ScalarType.Int8).DetachFromDisposeScope());
        register_buffer("scales", zeros(config.OutFeatures, Groups).DetachFromDisposeScope());
        if (config.Bias) register_buffer("bias", zeros(config.OutFeatures).DetachFromDisposeScope());
    }

    /// <summary>Quantizes <paramref name="weight"/> [out, in] (symmetric, groups of <paramref name="groupSize"/> inputs).</summary>
    public static TestQuantizedLinear Quantize(Tensor weight, Tensor? bias, int bits, int groupSize)
    {
        var layer = new TestQuantizedLinear(new TestQuantizedLinearConfig((int)weight.shape[1], (int)weight.shape[0], bits, groupSize, bias is not null));
        var (codes, scales) = TestPacking.Quantize(weight, bits, groupSize);
        using (codes)
        using (scales)
        using (no_grad())
        {
            layer.Codes.copy_(codes);
            layer.Scales.copy_(scales);
            if (bias is not null) layer.Bias!.copy_(bias);
        }
        return layer;
    }

    /// <summary>The typed config.</summary>
    public TestQuantizedLinearConfig TypedConfig { get; }

    /// <summary>Input features per scale.</summary>
    public long GroupSize => TypedConfig.GroupSize <= 0 || TypedConfig.GroupSize >= TypedConfig.InFeatures ? TypedConfig.InFeatures : TypedConfig.GroupSize;

    /// <summary>Scales per output row.</summary>
    public long Groups => (TypedConfig.InFeatures + GroupSize - 1) / GroupSize;

    /// <summary>Whether there is one scale per output row.</summary>
    public bool PerChannel => Groups == 1;

    /// <summary>Code width.</summary>
    public int Bits => TypedConfig.Bits;

    /// <summary>The codes [out, in] (int8).</summary>
    public Tensor Codes => get_buffer("codes")!;

    /// <summary>The scales [out, groups].</summary>
    public Tensor Scales => get_buffer("scales")!;

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => TypedConfig.Bias ? get_buffer("bias") : null;

    /// <inheritdoc/>
    public string Kind => KindId;

    /// <inheritdoc/>
    public object Config => TypedConfig;

    /// <inheritdoc/>
    public long[] DenseWeightShape => [TypedConfig.OutFeatures, TypedConfig.InFeatures];

    /// <inheritdoc/>
    public long WeightStorageBits => (long)TypedConfig.OutFeatures * TypedConfig.InFeatures * Bits + (long)TypedConfig.OutFeatures * Groups * 32;

    /// <inheritdoc/>
    public Tensor DenseWeight()
    {
        using var scope = NewDisposeScope();
        var expanded = Scales.repeat_interleave(GroupSize, 1).narrow(1, 0, TypedConfig.InFeatures);
        return Codes.to_type(ScalarType.Float32).mul(expanded).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var w = DenseWeight();
        return nn.functional.linear(input, w, Bias);
    }
}

/// <summary>The kind of <see cref="TestQuantizedLinear"/>: DequantizeLinear of the transposed codes (per output
/// channel, axis 1, opset 13 for 8 bits; blocked along the inputs, opset 21, for groups; int4 at 21 and int2 at 25) →
/// MatMul → Add of the bias (int2 codes of a layer whose outputs are not a multiple of 4: DQ of the [out, in] codes →
/// Transpose, as the layers library does). Config version 2: version 1 named the group size <c>group</c>, which
/// <see cref="UpgradeConfig"/> renames.</summary>
public sealed class TestQuantizedLinearKind : LayerKind<TestQuantizedLinear, TestQuantizedLinearConfig>
{
    /// <summary>How many times <see cref="UpgradeConfig"/> ran (for tests).</summary>
    public int Upgrades { get; private set; }

    /// <inheritdoc/>
    public override string Id => TestQuantizedLinear.KindId;

    /// <inheritdoc/>
    public override int ConfigVersion => 2;

    /// <inheritdoc/>
    public override TestQuantizedLinear Create(TestQuantizedLinearConfig config) => new(config);

    /// <inheritdoc/>
    public override void UpgradeConfig(int fromVersion, System.Text.Json.Nodes.JsonObject config)
    {
        Upgrades++;
        if (fromVersion < 2 && config["group"] is { } group)
        {
            config.Remove("group");
            config["groupSize"] = group;
        }
    }

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, TestQuantizedLinear layer, string input, string output)
    {
        var c = layer.TypedConfig;
        int type = OnnxDataType.Integer(layer.Bits, signed: true);
        context.RequireOpset("", Math.Max(OnnxDataType.MinimumOpset(type), layer.PerChannel ? 13 : 21));
        // ORT 1.31 fuses int2 DQ → MatMul wrongly when the [in, out] rows are not byte-aligned (out not a multiple of
        // 4): such layers dequantize the stored [out, in] codes and transpose the result, which ORT does not fuse.
        bool transposeAfter = layer.Bits == 2 && c.OutFeatures % 4 != 0;
        using var scope = NewDisposeScope();
        string codes = context.UniqueName("codes");
        var stored = transposeAfter ? layer.Codes : layer.Codes.t();
        context.AddInitializer(new OnnxInitializer(codes, type, stored.shape, TestPacking.Pack(stored, layer.Bits)));
        var scaleTensor = layer.PerChannel ? layer.Scales.reshape(c.OutFeatures) : transposeAfter ? layer.Scales : layer.Scales.t();
        string scales = context.UniqueName("scales");
        context.AddInitializer(Float(scales, scaleTensor));
        string weight = context.UniqueName("weight");
        long outputAxis = transposeAfter ? 0 : 1, inputAxis = 1 - outputAxis;
        var attributes = layer.PerChannel
            ? new Dictionary<string, object> { ["axis"] = outputAxis }
            : new Dictionary<string, object> { ["axis"] = inputAxis, ["block_size"] = layer.GroupSize };
        context.AddNode("DequantizeLinear", [codes, scales], [weight], attributes);
        if (transposeAfter)
        {
            string transposed = context.UniqueName("weight_t");
            context.AddNode("Transpose", [weight], [transposed], new Dictionary<string, object> { ["perm"] = new long[] { 1, 0 } });
            weight = transposed;
        }
        if (layer.Bias is not { } bias)
        {
            context.AddNode("MatMul", [input, weight], [output]);
            return;
        }
        string product = context.UniqueName("matmul");
        context.AddNode("MatMul", [input, weight], [product]);
        string b = context.UniqueName("bias");
        context.AddInitializer(Float(b, bias));
        context.AddNode("Add", [product, b], [output]);
    }

    internal static OnnxInitializer Float(string name, Tensor t)
    {
        using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return new OnnxInitializer(name, OnnxDataType.Float, c.shape, c.bytes.ToArray());
    }
}
