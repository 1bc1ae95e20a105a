using System.Globalization;
using Compressor.Engine.Onnx.Export;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>The Llama family (Hugging Face <c>llama</c>, and <c>qwen2</c> / <c>mistral</c>, which share its shape) with
/// Hugging Face <c>LlamaForCausalLM</c> names: <c>model.embed_tokens</c>, <c>model.layers.N.input_layernorm</c>,
/// <c>self_attn.q_proj/k_proj/v_proj/o_proj</c>, <c>post_attention_layernorm</c>, <c>mlp.gate_proj/up_proj/down_proj</c>,
/// <c>model.norm</c>, <c>lm_head</c> (absent when tied to the embedding). Pre-norm RMSNorm blocks, rotary positions
/// (<see cref="RotaryEmbedding"/>, the config's θ and scaling), grouped-query attention (<c>kvHeads</c> key/value heads
/// shared by groups of query heads), causal (and, for Mistral, sliding-window) masking, SwiGLU
/// down(silu(gate(x))·up(x)), optional q/k/v biases (Qwen2), o_proj and MLP biases. Token ids [B, T] → logits [B, T, V].
/// Each decoder layer is self-contained (it derives positions from the sequence), so a key/value-cache export can wrap
/// it layer by layer.</summary>
public sealed class LlamaArchitecture : IArchitecture
{
    /// <summary>Named presets: a tiny model for tests.</summary>
    public static readonly IReadOnlyDictionary<string, JObject> Presets = new Dictionary<string, JObject>
    {
        ["llama-tiny"] = new()
        {
            ["family"] = "llama", ["vocabSize"] = 256, ["hidden"] = 64, ["layers"] = 2, ["heads"] = 4, ["kvHeads"] = 2, ["headDim"] = 0,
            ["intermediate"] = 128, ["rmsNormEps"] = 1e-6, ["ropeTheta"] = 10000.0, ["ropeScaling"] = null, ["maxPositions"] = 2048,
            ["tieEmbeddings"] = false, ["attentionBias"] = false, ["outputBias"] = false, ["mlpBias"] = false, ["slidingWindow"] = 0,
            ["hiddenAct"] = "silu",
        },
    };

    /// <summary>The Hugging Face <c>model_type</c>s this architecture loads.</summary>
    public static readonly string[] Families = ["llama", "qwen2", "mistral"];

    /// <inheritdoc/>
    public string Name => "llama";

    /// <inheritdoc/>
    public string Description => "Llama family (llama, qwen2, mistral) with Hugging Face names; config family, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, rmsNormEps, ropeTheta, ropeScaling, maxPositions, tieEmbeddings, attentionBias, outputBias, mlpBias, slidingWindow, hiddenAct";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var c = ConfigReader.Merge((JObject)Presets["llama-tiny"].DeepClone(), config, Name);
        ConfigReader.Choice(c, "family", Families);
        ConfigReader.Int(c, "vocabSize", 2, 1 << 22);
        int hidden = ConfigReader.Int(c, "hidden", 1, 1 << 16), heads = ConfigReader.Int(c, "heads", 1, 1024);
        int kv = ConfigReader.Int(c, "kvHeads", 1, 1024), headDim = ConfigReader.Int(c, "headDim", 0, 1 << 12);
        ConfigReader.Int(c, "layers", 1, 1024);
        ConfigReader.Int(c, "intermediate", 1, 1 << 20);
        ConfigReader.Double(c, "rmsNormEps", 0, 1);
        ConfigReader.Double(c, "ropeTheta", 1, 1e12);
        ConfigReader.Int(c, "maxPositions", 1, 1 << 24);
        ConfigReader.Int(c, "slidingWindow", 0, 1 << 24);
        foreach (var key in new[] { "tieEmbeddings", "attentionBias", "outputBias", "mlpBias" }) ConfigReader.Bool(c, key);
        ConfigReader.Choice(c, "hiddenAct", "silu");
        if (c["ropeScaling"] is { } s && s.Type != JTokenType.Null && s is not JObject)
            throw new CompressException(ErrorKind.InvalidOptions, "llama: config 'ropeScaling' must be an object or null");
        if (headDim == 0 && hidden % heads != 0) throw new CompressException(ErrorKind.InvalidOptions, $"llama: hidden {hidden} is not a multiple of heads {heads}");
        if (heads % kv != 0) throw new CompressException(ErrorKind.InvalidOptions, $"llama: heads {heads} is not a multiple of kvHeads {kv}");
        if ((headDim == 0 ? hidden / heads : headDim) % 2 != 0) throw new CompressException(ErrorKind.InvalidOptions, "llama: the head width must be even (rotary embeddings)");
        _ = new RotaryEmbedding(headDim == 0 ? hidden / heads : headDim, (double)c["ropeTheta"]!, c["ropeScaling"] as JObject, 1);
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject c) => new LlamaForCausalLM(Complete(c));

    /// <inheritdoc/>
    public bool IsRedundantEcosystemTensor(string name) =>
        name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || name == "model.rotary_emb.inv_freq";
}

/// <summary>The Llama-family module (see <see cref="LlamaArchitecture"/>).</summary>
public sealed class LlamaForCausalLM : LayerContainer, IOnnxExportableModel, IDecoderStack
{
    /// <summary>Builds the model from a complete config with Hugging Face's initialisation (normal 0.02, norms 1, biases 0).</summary>
    public LlamaForCausalLM(JObject c) : base("llama")
    {
        int vocab = (int)c["vocabSize"]!, hidden = (int)c["hidden"]!, heads = (int)c["heads"]!, kv = (int)c["kvHeads"]!;
        int headDim = (int)c["headDim"]! is var hd and > 0 ? hd : hidden / heads;
        Tied = (bool)c["tieEmbeddings"]!;
        Family = (string)c["family"]!;
        Layers = (int)c["layers"]!;
        Heads = heads;
        KeyValueHeads = kv;
        HeadDim = headDim;
        MaxPositions = (int)c["maxPositions"]!;
        var rotary = new RotaryEmbedding(headDim, (double)c["ropeTheta"]!, c["ropeScaling"] as JObject, MaxPositions);
        var attention = new LlamaAttentionShape(hidden, heads, kv, headDim, (bool)c["attentionBias"]!, (bool)c["outputBias"]!, (int)c["slidingWindow"]!);
        register_module("model", new LlamaTrunk(vocab, hidden, Layers, (int)c["intermediate"]!, (double)c["rmsNormEps"]!, attention, rotary, (bool)c["mlpBias"]!));
        if (!Tied) register_module("lm_head", nn.Linear(hidden, vocab, hasBias: false));
        var batch = OnnxDim.Named("batch", 2);
        var sequence = OnnxDim.Named("sequence", (int)Math.Min(16, MaxPositions));
        OnnxInputs = [new OnnxValueSpec("input_ids", OnnxDataType.Int64, [batch, sequence], ValueLimit: vocab)];
        OnnxOutputs = [new OnnxValueSpec("logits", OnnxDataType.Float, [batch, sequence, OnnxDim.Fixed(vocab)])];
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>The Hugging Face <c>model_type</c> (llama, qwen2, mistral).</summary>
    public string Family { get; }

    /// <summary>Whether the output head is the embedding table.</summary>
    public bool Tied { get; }

    /// <summary>Decoder layers.</summary>
    public int Layers { get; }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads.</summary>
    public int KeyValueHeads { get; }

    /// <summary>Head width.</summary>
    public int HeadDim { get; }

    /// <summary>Longest sequence.</summary>
    public int MaxPositions { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    /// <summary>The final hidden states [B, T, D] (after <c>model.norm</c>).</summary>
    public Tensor Hidden(Tensor ids) => Child("model").forward(ids);

    /// <inheritdoc/>
    public string BlockName(int index) => $"model.layers.{index}";

    /// <inheritdoc/>
    public Tensor Embed(Tensor ids) => ((LlamaTrunk)GetChild("model")).Embed(ids);

    /// <inheritdoc/>
    public Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = ((LlamaTrunk)GetChild("model")).Norm(hidden);
        if (!Tied) return Child("lm_head").forward(h).MoveToOuterDisposeScope();
        if (((LlamaTrunk)GetChild("model")).GetChild("embed_tokens") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "llama: the output head is tied to model.embed_tokens, which must stay an uncompressed embedding (exclude it: --exclude model.embed_tokens)");
        using var w = table.weight!;
        return h.matmul(w.t()).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var h = Hidden(ids);
        if (!Tied) return Child("lm_head").forward(h).MoveToOuterDisposeScope();
        if (((LlamaTrunk)GetChild("model")).GetChild("embed_tokens") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "llama: the output head is tied to model.embed_tokens, which must stay an uncompressed embedding (exclude it: --exclude model.embed_tokens)");
        using var w = table.weight!;
        return h.matmul(w.t()).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string h = c.EmitChild("model", inputs)[0];
        if (!Tied) return c.EmitChild("lm_head", [h]);
        if (((LlamaTrunk)GetChild("model")).GetChild("embed_tokens") is not TorchSharp.Modules.Embedding)
            throw new CompressException(ErrorKind.VerificationFailed, "llama export: the tied output head needs an uncompressed model.embed_tokens");
        return [c.AddNode("MatMul", h, TransformerOnnx.Transpose(c, "model.embed_tokens.weight", 1, 0))];
    }
}

/// <summary>The sizes of one Llama attention.</summary>
/// <param name="Hidden">Model width.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KeyValueHeads">Key/value heads.</param>
/// <param name="HeadDim">Head width.</param>
/// <param name="QkvBias">Whether q/k/v have biases.</param>
/// <param name="OutputBias">Whether o_proj has a bias.</param>
/// <param name="SlidingWindow">Mistral's window (0: none).</param>
public sealed record LlamaAttentionShape(int Hidden, int Heads, int KeyValueHeads, int HeadDim, bool QkvBias, bool OutputBias, int SlidingWindow);

/// <summary><c>model</c>: embed_tokens, layers, norm.</summary>
public sealed class LlamaTrunk : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the trunk.</summary>
    public LlamaTrunk(int vocab, int hidden, int layers, int intermediate, double eps, LlamaAttentionShape attention, RotaryEmbedding rotary, bool mlpBias) : base("model")
    {
        register_module("embed_tokens", Memory.DeclaredModules.Embedding(vocab, hidden));
        register_module("layers", new LayerList(Enumerable.Range(0, layers).Select(_ => (nn.Module)new LlamaDecoderLayer(hidden, intermediate, eps, attention, rotary, mlpBias))));
        register_module("norm", new RmsNorm(hidden, eps));
    }

    /// <summary>Token ids [B, T] → embeddings [B, T, D].</summary>
    public Tensor Embed(Tensor ids) => Child("embed_tokens").forward(ids);

    /// <summary>The final RMSNorm.</summary>
    public Tensor Norm(Tensor hidden) => Child("norm").forward(hidden);

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var x = Child("embed_tokens").forward(ids);
        x = Child("layers").forward(x);
        return Child("norm").forward(x).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = c.EmitChild("embed_tokens", [inputs[0]])[0];
        x = c.EmitChild("layers", [x])[0];
        return c.EmitChild("norm", [x]);
    }
}

/// <summary><c>model.layers.N</c>: x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(·)).</summary>
public sealed class LlamaDecoderLayer : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the layer.</summary>
    public LlamaDecoderLayer(int hidden, int intermediate, double eps, LlamaAttentionShape attention, RotaryEmbedding rotary, bool mlpBias) : base("layer")
    {
        register_module("self_attn", new LlamaAttention(attention, rotary));
        register_module("mlp", new LlamaMlp(hidden, intermediate, mlpBias));
        register_module("input_layernorm", new RmsNorm(hidden, eps));
        register_module("post_attention_layernorm", new RmsNorm(hidden, eps));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.add(Child("self_attn").forward(Child("input_layernorm").forward(x)));
        return h.add(Child("mlp").forward(Child("post_attention_layernorm").forward(h))).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        string h = c.AddNode("Add", x, c.EmitChild("self_attn", c.EmitChild("input_layernorm", [x]))[0]);
        return [c.AddNode("Add", h, c.EmitChild("mlp", c.EmitChild("post_attention_layernorm", [h]))[0])];
    }
}

/// <summary><c>self_attn</c>: q_proj [H·d, C], k_proj and v_proj [G·d, C], o_proj [C, H·d]; rotary q and k, keys and
/// values repeated to H heads, causal (and sliding-window) softmax attention.</summary>
public sealed class LlamaAttention : LayerContainer, IOnnxExportable
{
    private readonly LlamaAttentionShape _shape;
    private readonly RotaryEmbedding _rotary;

    /// <summary>Creates the attention.</summary>
    public LlamaAttention(LlamaAttentionShape shape, RotaryEmbedding rotary) : base("self_attn")
    {
        _shape = shape;
        _rotary = rotary;
        register_module("q_proj", nn.Linear(shape.Hidden, shape.Heads * shape.HeadDim, shape.QkvBias));
        register_module("k_proj", nn.Linear(shape.Hidden, shape.KeyValueHeads * shape.HeadDim, shape.QkvBias));
        register_module("v_proj", nn.Linear(shape.Hidden, shape.KeyValueHeads * shape.HeadDim, shape.QkvBias));
        register_module("o_proj", nn.Linear(shape.Heads * shape.HeadDim, shape.Hidden, shape.OutputBias));
    }

    /// <summary>The sizes.</summary>
    public LlamaAttentionShape Shape => _shape;

    /// <summary>The rotary embedding.</summary>
    public RotaryEmbedding Rotary => _rotary;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[1];
        var (cos, sin) = _rotary.Angles(t, x.device);
        var q = RotaryEmbedding.Apply(AttentionMath.SplitHeads(Child("q_proj").forward(x), _shape.Heads), cos, sin);
        var k = RotaryEmbedding.Apply(AttentionMath.SplitHeads(Child("k_proj").forward(x), _shape.KeyValueHeads), cos, sin);
        var v = AttentionMath.SplitHeads(Child("v_proj").forward(x), _shape.KeyValueHeads);
        long groups = _shape.Heads / _shape.KeyValueHeads;
        var o = AttentionMath.Attend(q, AttentionMath.RepeatHeads(k, groups), AttentionMath.RepeatHeads(v, groups), CausalMask(t, _shape.SlidingWindow, x.device));
        return Child("o_proj").forward(o).MoveToOuterDisposeScope();
    }

    /// <summary>The additive causal mask [T, T]: −∞ where a query would see a later key (or, with a sliding window w, a
    /// key w or more positions back), 0 elsewhere.</summary>
    public static Tensor CausalMask(long t, int slidingWindow, Device device)
    {
        using var scope = NewDisposeScope();
        var all = full(t, t, float.NegativeInfinity, device: device);
        var mask = all.triu(1);
        if (slidingWindow > 0) mask = mask.add(all.tril(-slidingWindow));
        return mask.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        long d = _shape.HeadDim, groups = _shape.Heads / _shape.KeyValueHeads;
        var (cos, sin) = _rotary.Angles(c, x);
        string q = RotaryEmbedding.Apply(c, AttentionMath.SplitHeads(c, c.EmitChild("q_proj", [x])[0], _shape.Heads), cos, sin, d);
        string k = RotaryEmbedding.Apply(c, AttentionMath.SplitHeads(c, c.EmitChild("k_proj", [x])[0], _shape.KeyValueHeads), cos, sin, d);
        string v = AttentionMath.SplitHeads(c, c.EmitChild("v_proj", [x])[0], _shape.KeyValueHeads);
        k = AttentionMath.RepeatHeads(c, k, _shape.KeyValueHeads, groups, d);
        v = AttentionMath.RepeatHeads(c, v, _shape.KeyValueHeads, groups, d);
        string o = AttentionMath.Attend(c, q, k, v, CausalMask(c, x, _shape.SlidingWindow), d);
        return c.EmitChild("o_proj", [o]);
    }

    /// <summary>ONNX: the causal (and sliding-window) mask for the current length, built in the graph with Trilu.</summary>
    public static string CausalMask(IOnnxExportContext c, string x, int slidingWindow)
    {
        c.RequireOpset("", 14);
        string t = TransformerOnnx.Dim(c, x, 1);
        string shape = c.AddNode("Concat", [t, t], [c.UniqueName("Concat")], new Dictionary<string, object> { ["axis"] = 0L });
        string full = c.AddNode("Expand", c.FloatConstant(float.NegativeInfinity), shape);
        string mask = c.AddNode("Trilu", [full, c.AddTensor("causal_diagonal", tensor(1L))], [c.UniqueName("Trilu")], new Dictionary<string, object> { ["upper"] = 1L });
        if (slidingWindow > 0)
        {
            string window = c.AddNode("Trilu", [full, c.AddTensor("window_diagonal", tensor((long)-slidingWindow))], [c.UniqueName("Trilu")], new Dictionary<string, object> { ["upper"] = 0L });
            mask = c.AddNode("Add", mask, window);
        }
        return mask;
    }
}

/// <summary><c>mlp</c>: down_proj(silu(gate_proj(x)) · up_proj(x)) (SwiGLU).</summary>
public sealed class LlamaMlp : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the MLP.</summary>
    public LlamaMlp(int hidden, int intermediate, bool bias) : base("mlp")
    {
        register_module("gate_proj", nn.Linear(hidden, intermediate, bias));
        register_module("up_proj", nn.Linear(hidden, intermediate, bias));
        register_module("down_proj", nn.Linear(intermediate, hidden, bias));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var g = nn.functional.silu(Child("gate_proj").forward(x));
        return Child("down_proj").forward(g.mul(Child("up_proj").forward(x))).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string g = c.EmitChild("gate_proj", [inputs[0]])[0];
        string silu = c.AddNode("Mul", g, c.AddNode("Sigmoid", g));
        string u = c.EmitChild("up_proj", [inputs[0]])[0];
        return c.EmitChild("down_proj", [c.AddNode("Mul", silu, u)]);
    }
}
