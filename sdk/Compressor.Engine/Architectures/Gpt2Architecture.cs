using System.Text.RegularExpressions;
using Compressor.Sdk.Models;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A GPT-2-style decoder with Hugging Face <c>gpt2</c> names (<c>transformer.wte</c>, <c>transformer.wpe</c>,
/// <c>transformer.h.N.ln_1</c>, <c>attn.c_attn</c>, <c>attn.c_proj</c>, <c>ln_2</c>, <c>mlp.c_fc</c>, <c>mlp.c_proj</c>,
/// <c>transformer.ln_f</c>), learned positions, causal attention, tanh-approximated GELU, LayerNorm eps 1e-5 (config <c>layerNormEps</c>), a
/// feed-forward width of <c>inner</c> (0: dim·mlpRatio), and
/// the output head tied to <c>wte</c>. Its linears are ordinary [out, in] linear layers, so every plugin sees them;
/// Hugging Face's Conv1D weights ([in, out]) are transposed when a foreign checkpoint loads, and its tied
/// <c>lm_head.weight</c> and causal-mask buffers are skipped.</summary>
public sealed partial class Gpt2Architecture : IArchitecture
{
    /// <summary>Named presets: the public gpt2 (124M) shape and a tiny model for CPU experiments.</summary>
    public static readonly IReadOnlyDictionary<string, JObject> Presets = new Dictionary<string, JObject>
    {
        ["gpt2"] = new() { ["vocabSize"] = 50257, ["context"] = 1024, ["dim"] = 768, ["layers"] = 12, ["heads"] = 12, ["mlpRatio"] = 4 },
        ["gpt-tiny"] = new() { ["vocabSize"] = 256, ["context"] = 128, ["dim"] = 256, ["layers"] = 4, ["heads"] = 4, ["mlpRatio"] = 4 },
    };

    [GeneratedRegex(@"^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex Conv1dWeight();

    [GeneratedRegex(@"^(lm_head\.weight|transformer\.h\.\d+\.attn\.(bias|masked_bias))$", RegexOptions.CultureInvariant)]
    private static partial Regex Redundant();

    /// <inheritdoc/>
    public string Name => "gpt";

    /// <inheritdoc/>
    public string Description => "GPT-2-style decoder with Hugging Face gpt2 names; config vocabSize, context, dim, layers, heads, mlpRatio, inner, layerNormEps";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var defaults = (JObject)Presets["gpt-tiny"].DeepClone();
        defaults["inner"] = 0;
        defaults["layerNormEps"] = 1e-5;
        var c = ConfigReader.Merge(defaults, config, Name);
        ConfigReader.Int(c, "inner", 0, 1 << 20);
        ConfigReader.Double(c, "layerNormEps", 0, 1);
        ConfigReader.Int(c, "vocabSize", 2, 1 << 22);
        ConfigReader.Int(c, "context", 1, 1 << 20);
        int dim = ConfigReader.Int(c, "dim", 1, 1 << 16), heads = ConfigReader.Int(c, "heads", 1, 1024);
        ConfigReader.Int(c, "layers", 1, 1024);
        ConfigReader.Int(c, "mlpRatio", 1, 64);
        if (dim % heads != 0) throw new CompressException(ErrorKind.InvalidOptions, $"gpt: dim {dim} is not a multiple of heads {heads}");
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject c) => new GptModel(ConfigReader.Int(c, "vocabSize", 2, 1 << 22), ConfigReader.Int(c, "context", 1, 1 << 20),
        ConfigReader.Int(c, "dim", 1, 1 << 16), ConfigReader.Int(c, "layers", 1, 1024), ConfigReader.Int(c, "heads", 1, 1024), ConfigReader.Int(c, "mlpRatio", 1, 64),
        c["inner"] is { } inner ? (int)inner : 0, c["layerNormEps"] is { } eps ? (double)eps : 1e-5);

    /// <inheritdoc/>
    public Tensor FromEcosystem(string name, Tensor tensor) =>
        Conv1dWeight().IsMatch(name) && tensor.dim() == 2 ? tensor.t().contiguous() : tensor;

    /// <inheritdoc/>
    public bool IsRedundantEcosystemTensor(string name) => Redundant().IsMatch(ToModuleName(name));

    /// <summary>Hugging Face's <c>GPT2Model</c> files name the trunk's tensors without the <c>transformer.</c> prefix
    /// (<c>h.0.attn.c_attn.weight</c>, <c>wte.weight</c>); <c>GPT2LMHeadModel</c> files with it.</summary>
    public string ToModuleName(string name) =>
        name.StartsWith("transformer.", StringComparison.Ordinal) || name.StartsWith("lm_head.", StringComparison.Ordinal) ? name : "transformer." + name;
}

/// <summary>The GPT-2 module (see <see cref="Gpt2Architecture"/>): token ids [B, T] → logits [B, T, vocab]. Its ONNX
/// graph is the key/value-cache decoder (<see cref="DecoderCacheNames"/>): positions from <c>position_ids</c>, the cache
/// at every head.</summary>
public sealed class GptModel : LayerContainer, IOnnxExportableModel, IOnnxGraphReference, IDecoderStack
{
    /// <summary>Builds the model with GPT-2's initialisation (normal 0.02; residual projections 0.02/√(2·layers)).</summary>
    public GptModel(int vocab, int context, int dim, int layers, int heads, int mlpRatio, int inner = 0, double eps = 1e-5) : base("gpt")
    {
        Context = context;
        Layers = layers;
        AttentionHeads = heads;
        Vocabulary = vocab;
        HeadDim = dim / heads;
        if (context > 4096) throw new CompressException(ErrorKind.InvalidOptions, $"gpt: context {context} exceeds 4096");
        register_module("transformer", new Trunk(vocab, context, dim, layers, heads, mlpRatio, inner, eps));
        OnnxInputs = DecoderCacheNames.Inputs(layers, heads, HeadDim, vocab, context);
        OnnxOutputs = DecoderCacheNames.Outputs(layers, heads, HeadDim, vocab, context);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else if (name.Contains(".ln_", StringComparison.Ordinal) || name.EndsWith("ln_f.weight", StringComparison.Ordinal)) p.fill_(1);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) nn.init.normal_(p, 0, 0.02 / Math.Sqrt(2 * layers));
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>Maximum sequence length.</summary>
    public int Context { get; }

    /// <summary>Blocks (<c>transformer.h.0</c> …).</summary>
    public int Layers { get; }

    /// <summary>Attention heads of every block.</summary>
    public int AttentionHeads { get; }

    /// <summary>Head width.</summary>
    public int HeadDim { get; }

    /// <summary>Tokens in the vocabulary.</summary>
    public int Vocabulary { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    /// <summary>Emits the key/value-cache graph: inputs <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
    /// the pasts; outputs <c>logits</c>, the presents.</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        var trunk = c.EmitChild("transformer", inputs);
        // The head is tied to wte: reuse the table the embedding emitted ("transformer.wte.weight"), transposed.
        if (((Trunk)GetChild("transformer")).GetChild("wte") is not TorchSharp.Modules.Embedding)
            throw new CompressException(ErrorKind.VerificationFailed, "gpt export: the tied output head needs an uncompressed transformer.wte");
        return [c.AddNode("MatMul", trunk[0], TransformerOnnx.Transpose(c, "transformer.wte.weight", 1, 0)), .. trunk.Skip(1)];
    }

    /// <summary>The key/value-cache graph's computation (<see cref="DecoderCacheNames"/>): logits for the new tokens and
    /// every block's cache with their keys and values appended. Omitted inputs take their defaults.</summary>
    public IReadOnlyDictionary<string, Tensor> RunGraph(IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var scope = NewDisposeScope();
        var (ids, mask, positions, past) = DecoderCache.Inputs(inputs, Layers, AttentionHeads, HeadDim);
        var trunk = (Trunk)GetChild("transformer");
        if (trunk.GetChild("wte") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "gpt: the output head is tied to transformer.wte, which must stay an uncompressed embedding (exclude it: --exclude transformer.wte)");
        if (positions.numel() > 0 && positions.max().item<long>() >= Context)
            throw new CompressException(ErrorKind.InvalidInput, $"gpt: position {positions.max().item<long>()} is past the context of {Context}");
        var (hidden, present) = trunk.ForwardCached(ids, mask, positions, past);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [DecoderCacheNames.Logits] = hidden.matmul(table.weight!.t()).MoveToOuterDisposeScope() };
        for (int i = 0; i < Layers; i++)
        {
            result[DecoderCacheNames.PresentKey(i)] = present[i].Key.MoveToOuterDisposeScope();
            result[DecoderCacheNames.PresentValue(i)] = present[i].Value.MoveToOuterDisposeScope();
        }
        return result;
    }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxVerificationCase> VerificationCases(int seed) =>
        DecoderCache.VerificationCases(seed, Layers, AttentionHeads, HeadDim, Vocabulary, Context);

    /// <inheritdoc/>
    public string BlockName(int index) => $"transformer.h.{index}";

    /// <inheritdoc/>
    public DecoderCacheStart StartCached(IReadOnlyDictionary<string, Tensor> inputs, int layers)
    {
        var (ids, mask, positions, past) = DecoderCache.Inputs(inputs, layers, AttentionHeads, HeadDim);
        if (positions.numel() > 0 && positions.max().item<long>() >= Context)
            throw new CompressException(ErrorKind.InvalidInput, $"gpt: position {positions.max().item<long>()} is past the context of {Context}");
        var trunk = (Trunk)GetChild("transformer");
        using var scope = NewDisposeScope();
        var x = ((nn.Module<Tensor, Tensor>)trunk.GetChild("wte")).forward(ids).add(((nn.Module<Tensor, Tensor>)trunk.GetChild("wpe")).forward(positions)).MoveToOuterDisposeScope();
        var additive = DecoderCache.Mask(mask, ids.shape[1], 0).MoveToOuterDisposeScope();
        return new DecoderCacheStart(x, [additive], past);
    }

    /// <inheritdoc/>
    public (Tensor Hidden, Tensor Key, Tensor Value) BlockCached(nn.Module block, DecoderCacheStart start, Tensor hidden, int index)
    {
        if (block is not TransformerBlock b)
            throw new CompressException(ErrorKind.InvalidInput, $"gpt: transformer.h.{index} was replaced; the key/value-cache decoder needs its blocks");
        return b.ForwardCached(hidden, start.Side[0], start.Past[index].Key, start.Past[index].Value);
    }

    /// <inheritdoc/>
    public Tensor Embed(Tensor ids)
    {
        if (ids.shape[^1] > Context)
            throw new CompressException(ErrorKind.InvalidInput, $"gpt: sequence of {ids.shape[^1]} tokens exceeds the context of {Context}");
        return ((Trunk)GetChild("transformer")).Embed(ids);
    }

    /// <inheritdoc/>
    public Tensor Head(Tensor hidden)
    {
        var trunk = (Trunk)GetChild("transformer");
        if (trunk.GetChild("wte") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "gpt: the output head is tied to transformer.wte, which must stay an uncompressed embedding (exclude it: --exclude transformer.wte)");
        using var h = trunk.Norm(hidden);
        var wte = table.weight!;
        return h.matmul(wte.t());
    }

    /// <summary>The final hidden states [B, T, D] (after ln_f).</summary>
    public Tensor Hidden(Tensor ids) => ((Trunk)GetChild("transformer")).forward(ids);

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        if (ids.shape[^1] > Context)
            throw new CompressException(ErrorKind.InvalidInput, $"gpt: sequence of {ids.shape[^1]} tokens exceeds the context of {Context}");
        // The head is tied to wte: a compressed table (e.g. rtn --embeddings) has no weight to tie to.
        if (((Trunk)GetChild("transformer")).GetChild("wte") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "gpt: the output head is tied to transformer.wte, which must stay an uncompressed embedding (exclude it: --exclude transformer.wte)");
        using var h = Hidden(ids);
        var wte = table.weight!;
        return h.matmul(wte.t());
    }

    private sealed class Trunk : LayerContainer, IOnnxExportable
    {
        public Trunk(int vocab, int context, int dim, int layers, int heads, int mlpRatio, int inner, double eps) : base("transformer")
        {
            register_module("wte", Memory.DeclaredModules.Embedding(vocab, dim));
            register_module("wpe", Memory.DeclaredModules.Embedding(context, dim));
            register_module("h", new LayerList(Enumerable.Range(0, layers).Select(_ =>
                (nn.Module)new TransformerBlock(dim, heads, mlpRatio, qkvBias: true, causal: true, eps: eps, names: BlockNames.Gpt2, tanhGelu: true, hidden: inner))));
            register_module("ln_f", nn.LayerNorm(dim, eps));
        }

        public Tensor Embed(Tensor ids)
        {
            using var scope = NewDisposeScope();
            var positions = arange(ids.shape[^1], dtype: ScalarType.Int64, device: ids.device);
            return Child("wte").forward(ids).add(Child("wpe").forward(positions)).MoveToOuterDisposeScope();
        }

        public Tensor Norm(Tensor hidden) => Child("ln_f").forward(hidden);

        public override Tensor forward(Tensor ids)
        {
            using var scope = NewDisposeScope();
            var positions = arange(ids.shape[^1], dtype: ScalarType.Int64, device: ids.device);
            var x = Child("wte").forward(ids).add(Child("wpe").forward(positions));
            x = Child("h").forward(x);
            return Child("ln_f").forward(x).MoveToOuterDisposeScope();
        }

        /// <summary>The key/value-cache computation: final hidden states of the new tokens and each block's keys and values.</summary>
        public (Tensor Hidden, (Tensor Key, Tensor Value)[] Present) ForwardCached(Tensor ids, Tensor attentionMask, Tensor positions, (Tensor Key, Tensor Value)[] past)
        {
            using var scope = NewDisposeScope();
            var x = Child("wte").forward(ids).add(Child("wpe").forward(positions));
            var mask = DecoderCache.Mask(attentionMask, ids.shape[1], 0);
            var blocks = (LayerList)GetChild("h");
            var present = new (Tensor, Tensor)[blocks.Count];
            for (int i = 0; i < blocks.Count; i++)
            {
                if (blocks[i] is not TransformerBlock block)
                    throw new CompressException(ErrorKind.InvalidInput, $"gpt: transformer.h.{i} was replaced; the key/value-cache decoder needs its blocks");
                (x, var k, var v) = block.ForwardCached(x, mask, past[i].Key, past[i].Value);
                present[i] = (k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
            }
            return (Child("ln_f").forward(x).MoveToOuterDisposeScope(), present);
        }

        /// <summary>Emits the key/value-cache trunk on the graph inputs; returns the hidden states and the presents.</summary>
        public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
        {
            var blocks = (LayerList)GetChild("h");
            if (inputs.Count != 3 + 2 * blocks.Count)
                throw new CompressException(ErrorKind.VerificationFailed, $"gpt export: the trunk takes input_ids, attention_mask, position_ids and {2 * blocks.Count} cache inputs, not {inputs.Count}");
            string x = c.AddNode("Add", c.EmitChild("wte", [inputs[0]])[0], c.EmitChild("wpe", [inputs[2]])[0]);
            string mask = DecoderCache.Mask(c, inputs[0], inputs[1], 0);
            var present = new List<string>();
            for (int i = 0; i < blocks.Count; i++)
            {
                var outputs = c.EmitChild("h." + i.ToString(System.Globalization.CultureInfo.InvariantCulture), [x, mask, inputs[3 + 2 * i], inputs[4 + 2 * i]]);
                x = outputs[0];
                present.Add(outputs[1]);
                present.Add(outputs[2]);
            }
            return [c.EmitChild("ln_f", [x])[0], .. present];
        }
    }
}
