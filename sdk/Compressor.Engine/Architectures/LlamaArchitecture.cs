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
/// Its ONNX graph is the key/value-cache decoder (<see cref="DecoderCacheNames"/>): one graph for the prompt and every
/// decoding step, rotary angles from <c>position_ids</c>, grouped-query attention over the cached and new keys, the
/// cache kept at the key/value heads.</summary>
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
public sealed class LlamaForCausalLM : LayerContainer, IOnnxExportableModel, IOnnxGraphReference, IDecoderStack
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
        Vocabulary = vocab;
        OnnxInputs = DecoderCacheNames.Inputs(Layers, kv, headDim, vocab, MaxPositions);
        OnnxOutputs = DecoderCacheNames.Outputs(Layers, kv, headDim, vocab, MaxPositions);
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

    /// <summary>Tokens in the vocabulary.</summary>
    public int Vocabulary { get; }

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
        return Logits(h).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        return Logits(Hidden(ids)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public DecoderCacheStart StartCached(IReadOnlyDictionary<string, Tensor> inputs, int layers)
    {
        var (ids, mask, positions, past) = DecoderCache.Inputs(inputs, layers, KeyValueHeads, HeadDim);
        var (x, cos, sin, additive) = ((LlamaTrunk)GetChild("model")).StartCached(ids, mask, positions);
        return new DecoderCacheStart(x, [cos, sin, additive], past);
    }

    /// <inheritdoc/>
    public (Tensor Hidden, Tensor Key, Tensor Value) BlockCached(nn.Module block, DecoderCacheStart start, Tensor hidden, int index)
    {
        if (block is not LlamaDecoderLayer layer)
            throw new CompressException(ErrorKind.InvalidInput, $"llama: model.layers.{index} was replaced; the key/value-cache decoder needs its decoder layers");
        return layer.ForwardCached(hidden, start.Side[0], start.Side[1], start.Side[2], start.Past[index].Key, start.Past[index].Value);
    }

    /// <summary>The output head on final (normed) hidden states.</summary>
    private Tensor Logits(Tensor h)
    {
        if (!Tied) return Child("lm_head").forward(h);
        if (((LlamaTrunk)GetChild("model")).GetChild("embed_tokens") is not TorchSharp.Modules.Embedding table)
            throw new CompressException(ErrorKind.InvalidInput, "llama: the output head is tied to model.embed_tokens, which must stay an uncompressed embedding (exclude it: --exclude model.embed_tokens)");
        using var w = table.weight!;
        return h.matmul(w.t());
    }

    /// <summary>The key/value-cache graph's computation (<see cref="DecoderCacheNames"/>): logits for the new tokens and
    /// every layer's cache with their keys and values appended. Omitted inputs take their defaults (empty past, mask of
    /// ones, positions from the mask).</summary>
    public IReadOnlyDictionary<string, Tensor> RunGraph(IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var scope = NewDisposeScope();
        var (ids, mask, positions, past) = DecoderCache.Inputs(inputs, Layers, KeyValueHeads, HeadDim);
        var (hidden, present) = ((LlamaTrunk)GetChild("model")).ForwardCached(ids, mask, positions, past);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [DecoderCacheNames.Logits] = Logits(hidden).MoveToOuterDisposeScope() };
        for (int i = 0; i < Layers; i++)
        {
            result[DecoderCacheNames.PresentKey(i)] = present[i].Key.MoveToOuterDisposeScope();
            result[DecoderCacheNames.PresentValue(i)] = present[i].Value.MoveToOuterDisposeScope();
        }
        return result;
    }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxVerificationCase> VerificationCases(int seed) =>
        DecoderCache.VerificationCases(seed, Layers, KeyValueHeads, HeadDim, Vocabulary, MaxPositions);

    /// <summary>Emits the key/value-cache graph: inputs <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
    /// the pasts; outputs <c>logits</c>, the presents.</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        var trunk = c.EmitChild("model", inputs);
        string h = trunk[0];
        string logits;
        if (!Tied) logits = c.EmitChild("lm_head", [h])[0];
        else if (((LlamaTrunk)GetChild("model")).GetChild("embed_tokens") is not TorchSharp.Modules.Embedding)
            throw new CompressException(ErrorKind.VerificationFailed, "llama export: the tied output head needs an uncompressed model.embed_tokens");
        else logits = c.AddNode("MatMul", h, TransformerOnnx.Transpose(c, "model.embed_tokens.weight", 1, 0));
        return [logits, .. trunk.Skip(1)];
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
    private readonly RotaryEmbedding _rotary;
    private readonly int _slidingWindow;

    /// <summary>Creates the trunk.</summary>
    public LlamaTrunk(int vocab, int hidden, int layers, int intermediate, double eps, LlamaAttentionShape attention, RotaryEmbedding rotary, bool mlpBias) : base("model")
    {
        _rotary = rotary;
        _slidingWindow = attention.SlidingWindow;
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

    /// <summary>The key/value-cache computation before the first layer: embeddings, rotary angles, additive mask.</summary>
    public (Tensor Hidden, Tensor Cos, Tensor Sin, Tensor Mask) StartCached(Tensor ids, Tensor attentionMask, Tensor positions)
    {
        var (cos, sin) = _rotary.AnglesAt(positions);
        return (Child("embed_tokens").forward(ids), cos, sin, DecoderCache.Mask(attentionMask, ids.shape[1], _slidingWindow));
    }

    /// <summary>The key/value-cache computation: the final hidden states [B, S, D] of the new tokens and each layer's
    /// keys and values [B, G, past + S, d].</summary>
    public (Tensor Hidden, (Tensor Key, Tensor Value)[] Present) ForwardCached(Tensor ids, Tensor attentionMask, Tensor positions, (Tensor Key, Tensor Value)[] past)
    {
        using var scope = NewDisposeScope();
        var x = Child("embed_tokens").forward(ids);
        var (cos, sin) = _rotary.AnglesAt(positions);
        var mask = DecoderCache.Mask(attentionMask, ids.shape[1], _slidingWindow);
        var layers = (LayerList)GetChild("layers");
        var present = new (Tensor, Tensor)[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is not LlamaDecoderLayer layer)
                throw new CompressException(ErrorKind.InvalidInput, $"llama: model.layers.{i} was replaced; the key/value-cache decoder needs its decoder layers");
            (x, var k, var v) = layer.ForwardCached(x, cos, sin, mask, past[i].Key, past[i].Value);
            present[i] = (k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
        }
        return (Child("norm").forward(x).MoveToOuterDisposeScope(), present);
    }

    /// <summary>Emits the key/value-cache trunk on the graph inputs (<c>input_ids</c>, <c>attention_mask</c>,
    /// <c>position_ids</c>, then each layer's past key and value); returns the final hidden states and each layer's
    /// present key and value.</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        var layers = (LayerList)GetChild("layers");
        if (inputs.Count != 3 + 2 * layers.Count)
            throw new CompressException(ErrorKind.VerificationFailed, $"llama export: the trunk takes input_ids, attention_mask, position_ids and {2 * layers.Count} cache inputs, not {inputs.Count}");
        string x = c.EmitChild("embed_tokens", [inputs[0]])[0];
        var (cos, sin) = _rotary.AnglesAt(c, inputs[2]);
        string mask = DecoderCache.Mask(c, inputs[0], inputs[1], _slidingWindow);
        var present = new List<string>();
        for (int i = 0; i < layers.Count; i++)
        {
            var outputs = c.EmitChild("layers." + i.ToString(CultureInfo.InvariantCulture), [x, cos, sin, mask, inputs[3 + 2 * i], inputs[4 + 2 * i]]);
            x = outputs[0];
            present.Add(outputs[1]);
            present.Add(outputs[2]);
        }
        return [c.EmitChild("norm", [x])[0], .. present];
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

    /// <summary>The layer on new tokens with a cache: its output and the keys and values with the new ones appended.</summary>
    public (Tensor Output, Tensor Key, Tensor Value) ForwardCached(Tensor x, Tensor cos, Tensor sin, Tensor mask, Tensor pastKey, Tensor pastValue)
    {
        using var scope = NewDisposeScope();
        var (a, k, v) = ((LlamaAttention)GetChild("self_attn")).ForwardCached(Child("input_layernorm").forward(x), cos, sin, mask, pastKey, pastValue);
        var h = x.add(a);
        var y = h.add(Child("mlp").forward(Child("post_attention_layernorm").forward(h)));
        return (y.MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>Emits the layer on inputs (x, cos, sin, mask, past key, past value); returns (output, present key,
    /// present value).</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        var attention = c.EmitChild("self_attn", [c.EmitChild("input_layernorm", [x])[0], .. inputs.Skip(1)]);
        string h = c.AddNode("Add", x, attention[0]);
        return [c.AddNode("Add", h, c.EmitChild("mlp", c.EmitChild("post_attention_layernorm", [h]))[0]), attention[1], attention[2]];
    }
}

/// <summary><c>self_attn</c>: q_proj [H·d, C], k_proj and v_proj [G·d, C], o_proj [C, H·d]; rotary q and k, keys and
/// values repeated to H heads, causal (and sliding-window) softmax attention. With a cache the new keys and values are
/// appended to the past ones at G heads (what the cache holds) before they are repeated.</summary>
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

    /// <summary>Attention on new tokens x [B, S, C] with a cache: rotary angles cos/sin [B, 1, S, d] of their positions,
    /// the additive mask [B, 1, S, past + S] and the past keys and values [B, G, past, d]. Returns the output and the
    /// keys and values with the new ones appended.</summary>
    public (Tensor Output, Tensor Key, Tensor Value) ForwardCached(Tensor x, Tensor cos, Tensor sin, Tensor mask, Tensor pastKey, Tensor pastValue)
    {
        using var scope = NewDisposeScope();
        var q = RotaryEmbedding.Apply(AttentionMath.SplitHeads(Child("q_proj").forward(x), _shape.Heads), cos, sin);
        var k = RotaryEmbedding.Apply(AttentionMath.SplitHeads(Child("k_proj").forward(x), _shape.KeyValueHeads), cos, sin);
        var v = AttentionMath.SplitHeads(Child("v_proj").forward(x), _shape.KeyValueHeads);
        k = cat([pastKey, k], 2);
        v = cat([pastValue, v], 2);
        long groups = _shape.Heads / _shape.KeyValueHeads;
        var o = AttentionMath.Attend(q, AttentionMath.RepeatHeads(k, groups), AttentionMath.RepeatHeads(v, groups), mask);
        return (Child("o_proj").forward(o).MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>Emits the attention on inputs (x, cos, sin, mask, past key, past value) as
    /// <see cref="ForwardCached"/> computes it; returns (output, present key, present value).</summary>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        if (inputs.Count != 6)
            throw new CompressException(ErrorKind.VerificationFailed, "llama export: self_attn takes x, cos, sin, mask, past key and past value");
        string x = inputs[0], cos = inputs[1], sin = inputs[2], mask = inputs[3];
        long d = _shape.HeadDim, groups = _shape.Heads / _shape.KeyValueHeads;
        string q = RotaryEmbedding.Apply(c, AttentionMath.SplitHeads(c, c.EmitChild("q_proj", [x])[0], _shape.Heads), cos, sin, d);
        string k = RotaryEmbedding.Apply(c, AttentionMath.SplitHeads(c, c.EmitChild("k_proj", [x])[0], _shape.KeyValueHeads), cos, sin, d);
        string v = AttentionMath.SplitHeads(c, c.EmitChild("v_proj", [x])[0], _shape.KeyValueHeads);
        var concat = new Dictionary<string, object> { ["axis"] = 2L };
        k = c.AddNode("Concat", [inputs[4], k], [c.UniqueName("Concat")], concat);
        v = c.AddNode("Concat", [inputs[5], v], [c.UniqueName("Concat")], concat);
        string o = AttentionMath.Attend(c, q, AttentionMath.RepeatHeads(c, k, _shape.KeyValueHeads, groups, d),
            AttentionMath.RepeatHeads(c, v, _shape.KeyValueHeads, groups, d), mask, d);
        return [c.EmitChild("o_proj", [o])[0], k, v];
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
