using Compressor.Engine.Onnx.Export;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A BERT encoder with Hugging Face <c>BertModel</c> names (<c>embeddings.word_embeddings</c>,
/// <c>position_embeddings</c>, <c>token_type_embeddings</c>, <c>embeddings.LayerNorm</c>,
/// <c>encoder.layer.N.attention.self.query/key/value</c>, <c>attention.output.dense</c> + <c>LayerNorm</c>,
/// <c>intermediate.dense</c>, <c>output.dense</c> + <c>LayerNorm</c>, <c>pooler.dense</c>), so BERT and MiniLM
/// checkpoints load unrenamed (a <c>bert.</c> prefix is removed). Post-LN blocks, absolute positions, token types, an
/// additive padding mask from <c>attention_mask</c>, GELU (erf) or the config's activation; outputs the token states
/// <c>last_hidden_state</c> and, with a pooler, <c>pooler_output</c> = tanh(dense(h[CLS])).</summary>
public sealed class BertArchitecture : IArchitecture
{
    /// <summary>Named presets: bert-base's shape, all-MiniLM-L6-v2's and a tiny one for tests.</summary>
    public static readonly IReadOnlyDictionary<string, JObject> Presets = new Dictionary<string, JObject>
    {
        ["bert-base"] = Preset(30522, 768, 12, 12, 3072),
        ["minilm-l6"] = Preset(30522, 384, 6, 12, 1536),
        ["bert-tiny"] = Preset(1000, 64, 2, 4, 128),
    };

    /// <summary>The activations the config's <c>hiddenAct</c> may name (Hugging Face <c>hidden_act</c>).</summary>
    public static readonly string[] Activations = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"];

    private static JObject Preset(int vocab, int hidden, int layers, int heads, int intermediate) => new()
    {
        ["vocabSize"] = vocab, ["hidden"] = hidden, ["layers"] = layers, ["heads"] = heads, ["intermediate"] = intermediate,
        ["maxPositions"] = 512, ["typeVocabSize"] = 2, ["layerNormEps"] = 1e-12, ["hiddenAct"] = "gelu", ["pooler"] = true,
    };

    /// <inheritdoc/>
    public string Name => "bert";

    /// <inheritdoc/>
    public string Description => "BERT encoder with Hugging Face names; config vocabSize, hidden, layers, heads, intermediate, maxPositions, typeVocabSize, layerNormEps, hiddenAct, pooler";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var c = ConfigReader.Merge((JObject)Presets["bert-tiny"].DeepClone(), config, Name);
        ConfigReader.Int(c, "vocabSize", 2, 1 << 22);
        int hidden = ConfigReader.Int(c, "hidden", 1, 1 << 16), heads = ConfigReader.Int(c, "heads", 1, 1024);
        ConfigReader.Int(c, "layers", 1, 1024);
        ConfigReader.Int(c, "intermediate", 1, 1 << 18);
        ConfigReader.Int(c, "maxPositions", 1, 1 << 20);
        ConfigReader.Int(c, "typeVocabSize", 1, 1 << 16);
        ConfigReader.Double(c, "layerNormEps", 0, 1);
        ConfigReader.Choice(c, "hiddenAct", Activations);
        ConfigReader.Bool(c, "pooler");
        if (hidden % heads != 0) throw new CompressException(ErrorKind.InvalidOptions, $"bert: hidden {hidden} is not a multiple of heads {heads}");
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject c) => new BertModel(Complete(c));

    /// <inheritdoc/>
    public string ToModuleName(string name) => name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;

    /// <inheritdoc/>
    public bool IsRedundantEcosystemTensor(string name) => name is "embeddings.position_ids" or "bert.embeddings.position_ids";
}

/// <summary>The BERT module (see <see cref="BertArchitecture"/>).</summary>
public sealed class BertModel : LayerContainer, IOnnxExportableModel, INamedIoModule
{
    private readonly int _layers;

    /// <summary>Builds the model from a complete config with BERT's initialisation (normal 0.02, LayerNorm 1/0, biases 0).</summary>
    public BertModel(JObject c) : base("bert")
    {
        int vocab = (int)c["vocabSize"]!, hidden = (int)c["hidden"]!, heads = (int)c["heads"]!;
        int positions = (int)c["maxPositions"]!, types = (int)c["typeVocabSize"]!, inter = (int)c["intermediate"]!;
        double eps = (double)c["layerNormEps"]!;
        string act = (string)c["hiddenAct"]!;
        _layers = (int)c["layers"]!;
        Hidden = hidden;
        Heads = heads;
        HasPooler = (bool)c["pooler"]!;
        register_module("embeddings", new BertEmbeddings(vocab, hidden, positions, types, eps));
        register_module("encoder", new BertEncoder(Enumerable.Range(0, _layers).Select(_ => new BertLayer(hidden, heads, inter, eps, act))));
        if (HasPooler) register_module("pooler", new BertPooler(hidden));
        var batch = OnnxDim.Named("batch", 2);
        var sequence = OnnxDim.Named("sequence", (int)Math.Min(16, positions));
        OnnxInputs =
        [
            new OnnxValueSpec(InputIds, OnnxDataType.Int64, [batch, sequence], ValueLimit: vocab),
            new OnnxValueSpec(AttentionMask, OnnxDataType.Int64, [batch, sequence]),
            new OnnxValueSpec(TokenTypeIds, OnnxDataType.Int64, [batch, sequence], ValueLimit: types),
        ];
        var outputs = new List<OnnxValueSpec> { new(LastHiddenState, OnnxDataType.Float, [batch, sequence, OnnxDim.Fixed(hidden)]) };
        if (HasPooler) outputs.Add(new OnnxValueSpec(PoolerOutput, OnnxDataType.Float, [batch, OnnxDim.Fixed(hidden)]));
        OnnxOutputs = outputs;
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) p.fill_(1);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>Input: token ids [B, T].</summary>
    public const string InputIds = "input_ids";

    /// <summary>Input: 1 for tokens, 0 for padding [B, T] (default all ones).</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>Input: segment ids [B, T] (default all zeros).</summary>
    public const string TokenTypeIds = "token_type_ids";

    /// <summary>Output: the token states [B, T, hidden].</summary>
    public const string LastHiddenState = "last_hidden_state";

    /// <summary>Output: tanh(dense(h[CLS])) [B, hidden], when the model has a pooler.</summary>
    public const string PoolerOutput = "pooler_output";

    /// <summary>Width.</summary>
    public int Hidden { get; }

    /// <summary>Attention heads.</summary>
    public int Heads { get; }

    /// <summary>The number of layers (<c>encoder.layer.0</c> …).</summary>
    public int Depth => _layers;

    /// <summary>Whether the pooler exists.</summary>
    public bool HasPooler { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> InputNames => [InputIds, AttentionMask, TokenTypeIds];

    /// <inheritdoc/>
    public IReadOnlyList<string> OutputNames => HasPooler ? [LastHiddenState, PoolerOutput] : [LastHiddenState];

    /// <summary>The token states for token ids alone (no padding, segment 0).</summary>
    public override Tensor forward(Tensor ids) => Encode(ids, null, null);

    /// <summary>The token states [B, T, hidden].</summary>
    public Tensor Encode(Tensor ids, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = NewDisposeScope();
        var x = ((BertEmbeddings)GetChild("embeddings")).Embed(ids, tokenTypes ?? zeros_like(ids));
        var mask = attentionMask is null ? null : AdditiveMask(attentionMask);
        return ((BertEncoder)GetChild("encoder")).Encode(x, mask).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (!inputs.TryGetValue(InputIds, out var ids))
            throw new CompressException(ErrorKind.InvalidInput, $"bert: input '{InputIds}' is missing");
        inputs.TryGetValue(AttentionMask, out var mask);
        inputs.TryGetValue(TokenTypeIds, out var types);
        var h = Encode(ids, mask, types);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [LastHiddenState] = h };
        if (HasPooler) result[PoolerOutput] = Child("pooler").forward(h);
        return result;
    }

    /// <summary>(1 − mask) · float.MinValue as [B, 1, 1, T], Hugging Face's extended attention mask.</summary>
    public static Tensor AdditiveMask(Tensor attentionMask)
    {
        using var m = attentionMask.to_type(ScalarType.Float32);
        using var inverse = m.neg().add_(1);
        return inverse.mul(float.MinValue).unsqueeze(1).unsqueeze(1);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string x = c.EmitChild("embeddings", [inputs[0], inputs[2]])[0];
        string mask = c.AddNode("Cast", [inputs[1]], [c.UniqueName("Cast")], new Dictionary<string, object> { ["to"] = (long)OnnxDataType.Float });
        string inverse = c.AddNode("Sub", c.FloatConstant(1f), mask);
        string additive = c.AddNode("Unsqueeze", c.AddNode("Mul", inverse, c.FloatConstant(float.MinValue)), c.Int64Constant(1, 2));
        string h = c.EmitChild("encoder", [x, additive])[0];
        return HasPooler ? [h, c.EmitChild("pooler", [h])[0]] : [h];
    }
}

/// <summary>Word + position + token-type embeddings, then LayerNorm.</summary>
public sealed class BertEmbeddings : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the embeddings.</summary>
    public BertEmbeddings(int vocab, int hidden, int positions, int types, double eps) : base("embeddings")
    {
        MaxPositions = positions;
        register_module("word_embeddings", nn.Embedding(vocab, hidden));
        register_module("position_embeddings", nn.Embedding(positions, hidden));
        register_module("token_type_embeddings", nn.Embedding(types, hidden));
        register_module("LayerNorm", nn.LayerNorm(hidden, eps));
    }

    /// <summary>The longest sequence.</summary>
    public int MaxPositions { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        using var types = zeros_like(ids);
        return Embed(ids, types);
    }

    /// <summary>The embedded tokens [B, T, hidden].</summary>
    public Tensor Embed(Tensor ids, Tensor tokenTypes)
    {
        if (ids.shape[^1] > MaxPositions)
            throw new CompressException(ErrorKind.InvalidInput, $"bert: sequence of {ids.shape[^1]} tokens exceeds max_position_embeddings {MaxPositions}");
        using var scope = NewDisposeScope();
        var positions = arange(ids.shape[^1], dtype: ScalarType.Int64, device: ids.device);
        var x = Child("word_embeddings").forward(ids).add(Child("token_type_embeddings").forward(tokenTypes)).add(Child("position_embeddings").forward(positions));
        return Child("LayerNorm").forward(x).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string words = c.EmitChild("word_embeddings", [inputs[0]])[0];
        string types = c.EmitChild("token_type_embeddings", [inputs[1]])[0];
        string length = c.AddNode("Squeeze", TransformerOnnx.Dim(c, inputs[0], 1), c.Int64Constant(0));
        string positions = c.AddNode("Range", c.AddTensor("zero", tensor(0L)), length, c.AddTensor("one", tensor(1L)));
        string x = c.AddNode("Add", c.AddNode("Add", words, types), c.EmitChild("position_embeddings", [positions])[0]);
        return c.EmitChild("LayerNorm", [x]);
    }
}

/// <summary>The stack of layers (<c>encoder.layer.N</c>), each given the additive mask.</summary>
public sealed class BertEncoder : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the encoder.</summary>
    public BertEncoder(IEnumerable<BertLayer> layers) : base("encoder")
    {
        register_module("layer", new LayerList(layers));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Encode(x, null);

    /// <summary>Runs every layer.</summary>
    public Tensor Encode(Tensor x, Tensor? mask)
    {
        var list = (LayerList)GetChild("layer");
        var h = x.alias();
        for (int i = 0; i < list.Count; i++)
        {
            var next = ((BertLayer)list.GetChild(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Encode(h, mask);
            h.Dispose();
            h = next;
        }
        return h;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        var list = (LayerList)GetChild("layer");
        string h = inputs[0];
        for (int i = 0; i < list.Count; i++) h = c.EmitChild("layer." + i.ToString(System.Globalization.CultureInfo.InvariantCulture), [h, inputs[1]])[0];
        return [h];
    }
}

/// <summary>One post-LN layer: attention (self + output), intermediate, output.</summary>
public sealed class BertLayer : LayerContainer, IOnnxExportable
{
    private readonly string _act;

    /// <summary>Creates the layer.</summary>
    public BertLayer(int hidden, int heads, int intermediate, double eps, string act) : base("layer")
    {
        _act = act;
        register_module("attention", new BertAttention(hidden, heads, eps));
        register_module("intermediate", new Dense(hidden, intermediate, "intermediate"));
        register_module("output", new DenseLayerNorm(intermediate, hidden, eps, "output"));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Encode(x, null);

    /// <summary>The layer on <paramref name="x"/> with an optional additive mask [B, 1, 1, T].</summary>
    public Tensor Encode(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var a = ((BertAttention)GetChild("attention")).Attend(x, mask);
        var h = Child("intermediate").forward(a);
        h = _act switch
        {
            "relu" => nn.functional.relu(h),
            "gelu" => nn.functional.gelu(h),
            _ => nn.functional.gelu(h, TorchSharp.Modules.GELU.Approximate.tanh, false),
        };
        return ((DenseLayerNorm)GetChild("output")).Forward(h, a).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string a = c.EmitChild("attention", inputs)[0];
        string h = c.EmitChild("intermediate", [a])[0];
        h = _act == "relu" ? c.AddNode("Relu", h) : TransformerOnnx.Gelu(c, h, _act != "gelu");
        return c.EmitChild("output", [h, a]);
    }
}

/// <summary><c>attention</c>: <c>self</c> (query/key/value, scaled dot products with the mask) and <c>output</c>
/// (dense, then LayerNorm of the residual sum).</summary>
public sealed class BertAttention : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the attention.</summary>
    public BertAttention(int hidden, int heads, double eps) : base("attention")
    {
        register_module("self", new BertSelfAttention(hidden, heads));
        register_module("output", new DenseLayerNorm(hidden, hidden, eps, "output"));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Attend(x, null);

    /// <summary>The attention block's output (after the residual LayerNorm).</summary>
    public Tensor Attend(Tensor x, Tensor? mask)
    {
        using var context = ((BertSelfAttention)GetChild("self")).Attend(x, mask);
        return ((DenseLayerNorm)GetChild("output")).Forward(context, x);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string context = c.EmitChild("self", inputs)[0];
        return c.EmitChild("output", [context, inputs[0]]);
    }
}

/// <summary><c>attention.self</c>: separate <c>query</c>, <c>key</c>, <c>value</c> linears [C, C] with biases; the
/// context softmax(q·kᵀ/√d + mask)·v, heads concatenated (no output projection: that is <c>attention.output.dense</c>).</summary>
public sealed class BertSelfAttention : LayerContainer, IOnnxExportable
{
    private readonly int _heads;

    /// <summary>Creates the attention.</summary>
    public BertSelfAttention(int hidden, int heads) : base("self")
    {
        _heads = heads;
        register_module("query", nn.Linear(hidden, hidden));
        register_module("key", nn.Linear(hidden, hidden));
        register_module("value", nn.Linear(hidden, hidden));
    }

    /// <summary>Heads.</summary>
    public int Heads => _heads;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Attend(x, null);

    /// <summary>The context [B, T, C].</summary>
    public Tensor Attend(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var q = AttentionMath.SplitHeads(Child("query").forward(x), _heads);
        var k = AttentionMath.SplitHeads(Child("key").forward(x), _heads);
        var v = AttentionMath.SplitHeads(Child("value").forward(x), _heads);
        return AttentionMath.Attend(q, k, v, mask).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string q = AttentionMath.SplitHeads(c, c.EmitChild("query", [inputs[0]])[0], _heads);
        string k = AttentionMath.SplitHeads(c, c.EmitChild("key", [inputs[0]])[0], _heads);
        string v = AttentionMath.SplitHeads(c, c.EmitChild("value", [inputs[0]])[0], _heads);
        return [AttentionMath.Attend(c, q, k, v, inputs.Count > 1 ? inputs[1] : null)];
    }
}

/// <summary>A <c>dense</c> linear (<c>intermediate</c>).</summary>
public sealed class Dense : LayerContainer, IOnnxExportable
{
    /// <summary>Creates it.</summary>
    public Dense(int input, int output, string name) : base(name)
    {
        register_module("dense", nn.Linear(input, output));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Child("dense").forward(x);

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs) => c.EmitChild("dense", [inputs[0]]);
}

/// <summary>LayerNorm(dense(x) + residual): BERT's <c>attention.output</c> and <c>output</c>.</summary>
public sealed class DenseLayerNorm : LayerContainer, IOnnxExportable
{
    /// <summary>Creates it.</summary>
    public DenseLayerNorm(int input, int output, double eps, string name) : base(name)
    {
        register_module("dense", nn.Linear(input, output));
        register_module("LayerNorm", nn.LayerNorm(output, eps));
    }

    /// <summary>dense(x) alone; the residual needs <see cref="Forward"/>.</summary>
    public override Tensor forward(Tensor x) => Child("dense").forward(x);

    /// <summary>LayerNorm(dense(x) + residual).</summary>
    public Tensor Forward(Tensor x, Tensor residual)
    {
        using var d = Child("dense").forward(x);
        using var sum = d.add(residual);
        return Child("LayerNorm").forward(sum);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        string d = c.EmitChild("dense", [inputs[0]])[0];
        return c.EmitChild("LayerNorm", [c.AddNode("Add", d, inputs[1])]);
    }
}

/// <summary><c>pooler</c>: tanh(dense(h[:, 0])).</summary>
public sealed class BertPooler : LayerContainer, IOnnxExportable
{
    /// <summary>Creates it.</summary>
    public BertPooler(int hidden) : base("pooler")
    {
        register_module("dense", nn.Linear(hidden, hidden));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor h)
    {
        using var first = h.select(1, 0);
        using var d = Child("dense").forward(first);
        return d.tanh();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs) =>
        [c.AddNode("Tanh", c.EmitChild("dense", [TransformerOnnx.Select(c, inputs[0], 1, 0)])[0])];
}
