using Compressor.Sdk.Models;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>Vision transformer / DeiT with timm parameter names (<c>patch_embed.proj</c>, <c>cls_token</c>,
/// <c>pos_embed</c>, <c>blocks.N.norm1</c>, <c>blocks.N.attn.qkv</c>, <c>blocks.N.attn.proj</c>, <c>blocks.N.norm2</c>,
/// <c>blocks.N.mlp.fc1</c>/<c>fc2</c>, <c>norm</c>, <c>head</c>; distilled: <c>dist_token</c>, <c>head_dist</c>), so
/// timm state dicts load without renaming. Pre-norm blocks, GELU (erf), LayerNorm eps 1e-6, classifier on the class
/// token; the distilled variant averages the two heads' logits (timm's inference behaviour).</summary>
public sealed class VitArchitecture : IArchitecture
{
    /// <summary>Named presets: timm's DeiT shapes and small-image sizes.</summary>
    public static readonly IReadOnlyDictionary<string, JObject> Presets = new Dictionary<string, JObject>
    {
        ["deit-tiny"] = new() { ["imageSize"] = 224, ["patchSize"] = 16, ["inChannels"] = 3, ["dim"] = 192, ["depth"] = 12, ["heads"] = 3, ["mlpRatio"] = 4, ["classes"] = 1000 },
        ["deit-small"] = new() { ["imageSize"] = 224, ["patchSize"] = 16, ["inChannels"] = 3, ["dim"] = 384, ["depth"] = 12, ["heads"] = 6, ["mlpRatio"] = 4, ["classes"] = 1000 },
        ["vit-digits"] = new() { ["imageSize"] = 8, ["patchSize"] = 4, ["inChannels"] = 1, ["dim"] = 64, ["depth"] = 4, ["heads"] = 4, ["mlpRatio"] = 2, ["classes"] = 10 },
        ["vit-mnist"] = new() { ["imageSize"] = 28, ["patchSize"] = 7, ["inChannels"] = 1, ["dim"] = 128, ["depth"] = 6, ["heads"] = 4, ["mlpRatio"] = 2, ["classes"] = 10 },
    };

    /// <inheritdoc/>
    public string Name => "vit";

    /// <inheritdoc/>
    public string Description => "ViT/DeiT with timm names; config imageSize, patchSize, inChannels, dim, depth, heads, mlpRatio, classes, distilled, qkvBias";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var defaults = (JObject)Presets["vit-digits"].DeepClone();
        defaults["distilled"] = false;
        defaults["qkvBias"] = true;
        var c = ConfigReader.Merge(defaults, config, Name);
        int image = ConfigReader.Int(c, "imageSize", 1, 4096), patch = ConfigReader.Int(c, "patchSize", 1, 4096);
        int dim = ConfigReader.Int(c, "dim", 1, 1 << 16), heads = ConfigReader.Int(c, "heads", 1, 1024);
        ConfigReader.Int(c, "inChannels", 1, 64);
        ConfigReader.Int(c, "depth", 1, 1024);
        ConfigReader.Int(c, "mlpRatio", 1, 64);
        ConfigReader.Int(c, "classes", 1, 1 << 20);
        ConfigReader.Bool(c, "distilled");
        ConfigReader.Bool(c, "qkvBias");
        if (image % patch != 0) throw new CompressException(ErrorKind.InvalidOptions, $"vit: imageSize {image} is not a multiple of patchSize {patch}");
        if (dim % heads != 0) throw new CompressException(ErrorKind.InvalidOptions, $"vit: dim {dim} is not a multiple of heads {heads}");
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject c) => new VisionTransformer(
        ConfigReader.Int(c, "imageSize", 1, 4096), ConfigReader.Int(c, "patchSize", 1, 4096), ConfigReader.Int(c, "inChannels", 1, 64),
        ConfigReader.Int(c, "dim", 1, 1 << 16), ConfigReader.Int(c, "depth", 1, 1024), ConfigReader.Int(c, "heads", 1, 1024),
        ConfigReader.Int(c, "mlpRatio", 1, 64), ConfigReader.Int(c, "classes", 1, 1 << 20), ConfigReader.Bool(c, "distilled"), ConfigReader.Bool(c, "qkvBias"));
}

/// <summary>The ViT/DeiT module (see <see cref="VitArchitecture"/>).</summary>
public sealed class VisionTransformer : LayerContainer, IOnnxExportableModel
{
    private readonly bool _distilled;
    private readonly int _prefixTokens, _dim, _depth, _heads;

    /// <summary>Builds the model with timm's initialisation (normal 0.02, truncated at ±2, for tokens, positions and linears).</summary>
    public VisionTransformer(int imageSize, int patchSize, int inChannels, int dim, int depth, int heads, int mlpRatio, int classes, bool distilled, bool qkvBias)
        : base("vit")
    {
        _distilled = distilled;
        _prefixTokens = distilled ? 2 : 1;
        _dim = dim;
        _depth = depth;
        _heads = heads;
        OnnxInputs = [new OnnxValueSpec("images", OnnxDataType.Float, [OnnxDim.Named("batch", 4), OnnxDim.Fixed(inChannels), OnnxDim.Fixed(imageSize), OnnxDim.Fixed(imageSize)])];
        OnnxOutputs = [new OnnxValueSpec("logits", OnnxDataType.Float, [OnnxDim.Named("batch", 4), OnnxDim.Fixed(classes)])];
        int patches = (imageSize / patchSize) * (imageSize / patchSize);
        register_module("patch_embed", new PatchEmbed(inChannels, dim, patchSize));
        register_parameter("cls_token", new TorchSharp.Modules.Parameter(zeros(1, 1, dim)));
        if (distilled) register_parameter("dist_token", new TorchSharp.Modules.Parameter(zeros(1, 1, dim)));
        register_parameter("pos_embed", new TorchSharp.Modules.Parameter(zeros(1, patches + _prefixTokens, dim)));
        register_module("blocks", new LayerList(Enumerable.Range(0, depth).Select(_ => (nn.Module)new TransformerBlock(dim, heads, mlpRatio, qkvBias, causal: false, eps: 1e-6, names: BlockNames.Timm))));
        register_module("norm", nn.LayerNorm(dim, 1e-6));
        register_module("head", nn.Linear(dim, classes));
        if (distilled) register_module("head_dist", nn.Linear(dim, classes));
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            // timm: trunc_normal_(std=0.02) with absolute bounds ±2, i.e. a plain N(0, 0.02²) at this std. TorchSharp
            // 0.107's nn.init.trunc_normal_ fills the tensor with one constant (checked: 1 distinct value), so it is
            // not used here.
            if (name.EndsWith("_token", StringComparison.Ordinal) || name == "pos_embed" || (p.dim() == 2 && name.EndsWith(".weight", StringComparison.Ordinal)))
                nn.init.normal_(p, 0, 0.02).clamp_(-2, 2);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
        }
    }

    /// <summary>Whether the model has the distillation token and head.</summary>
    public bool Distilled => _distilled;

    /// <summary>The number of transformer blocks (<c>blocks.0</c> … <c>blocks.{Depth-1}</c>).</summary>
    public int Depth => _depth;

    /// <summary>The number of attention heads of every block.</summary>
    public int AttentionHeads => _heads;

    /// <summary>The final normalised token features [B, N, D] (for heads, distillation and probes).</summary>
    public Tensor Features(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = Child("patch_embed").forward(images);
        long b = x.shape[0];
        var tokens = new List<Tensor> { get_parameter("cls_token")!.expand(b, -1, -1) };
        if (_distilled) tokens.Add(get_parameter("dist_token")!.expand(b, -1, -1));
        tokens.Add(x);
        x = cat(tokens, 1).add(get_parameter("pos_embed")!);
        x = Child("blocks").forward(x);
        return Child("norm").forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Logits of the class head and, when distilled, of the distillation head.</summary>
    public (Tensor Cls, Tensor? Dist) Heads(Tensor images)
    {
        using var scope = NewDisposeScope();
        var f = Features(images);
        var cls = Child("head").forward(f.select(1, 0));
        Tensor? dist = _distilled ? Child("head_dist").forward(f.select(1, 1)) : null;
        return (cls.MoveToOuterDisposeScope(), dist?.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string patches = c.EmitChild("patch_embed", [inputs[0]])[0];
        // Class (and distillation) tokens expanded to the batch: Expand(token, [B, 1, D]).
        string batch = TransformerOnnx.Dim(c, inputs[0], 0);
        string shape = c.AddNode("Concat", [batch, c.Int64Constant(1, _dim)], [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = 0L });
        var parts = new List<string> { c.AddNode("Expand", c.AddTensor("cls_token", get_parameter("cls_token")!.detach()), shape) };
        if (_distilled) parts.Add(c.AddNode("Expand", c.AddTensor("dist_token", get_parameter("dist_token")!.detach()), shape));
        parts.Add(patches);
        string tokens = c.AddNode("Concat", parts, [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = 1L });
        string x = c.AddNode("Add", tokens, c.AddTensor("pos_embed", get_parameter("pos_embed")!.detach()));
        x = c.EmitChild("blocks", [x])[0];
        x = c.EmitChild("norm", [x])[0];
        string cls = c.EmitChild("head", [TransformerOnnx.Select(c, x, 1, 0)])[0];
        if (!_distilled) return [cls];
        string dist = c.EmitChild("head_dist", [TransformerOnnx.Select(c, x, 1, 1)])[0];
        return [c.AddNode("Mul", c.AddNode("Add", cls, dist), c.FloatConstant(0.5f))];
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor images)
    {
        var (cls, dist) = Heads(images);
        if (dist is null) return cls;
        using (cls) using (dist) return cls.add(dist).div_(2);
    }

    /// <summary>timm's PatchEmbed: a strided convolution <c>proj</c>, flattened to tokens [B, N, D].</summary>
    public sealed class PatchEmbed : LayerContainer, IOnnxExportable
    {
        private readonly int _dim;

        /// <summary>Creates the embedding.</summary>
        public PatchEmbed(int inChannels, int dim, int patch) : base("patch_embed")
        {
            _dim = dim;
            register_module("proj", nn.Conv2d(inChannels, dim, (patch, patch), stride: (patch, patch)));
        }

        /// <inheritdoc/>
        public override Tensor forward(Tensor images)
        {
            using var y = Child("proj").forward(images);
            using var flat = y.flatten(2);
            return flat.transpose(1, 2).contiguous();
        }

        /// <inheritdoc/>
        public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
        {
            string y = c.EmitChild("proj", [inputs[0]])[0];
            return [TransformerOnnx.Transpose(c, TransformerOnnx.Reshape(c, y, 0, _dim, -1), 0, 2, 1)];
        }
    }
}
