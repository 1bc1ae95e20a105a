using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>An imported ONNX graph as a model (<see cref="OnnxModule"/>): named inputs and outputs from the graph,
/// data batches fed to encoders with their side inputs, blocks and named intermediate values for block-wise methods,
/// and copies rebuilt from the graph. Its architecture spec (<see cref="OnnxArchitecture"/>) carries the graph, so a
/// checkpoint saved from it reloads without the ONNX file.</summary>
public sealed class ImportedModel : EngineModel
{
    /// <summary>The name of a BERT-style encoder's token ids input.</summary>
    public const string InputIds = "input_ids";

    /// <summary>The name of a BERT-style encoder's attention mask input (ids ≠ 0, [PAD] being 0).</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>The name of a BERT-style encoder's token types input (all 0 for single sentences).</summary>
    public const string TokenTypeIds = "token_type_ids";

    /// <summary>Wraps <paramref name="graph"/>.</summary>
    /// <param name="graph">The imported graph.</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    public ImportedModel(OnnxModule graph, LayerKindSet kinds, IEnumerable<AppliedStep>? steps = null)
        : base(graph, OnnxArchitecture.SpecOf(graph), kinds, steps) { }

    /// <summary>The imported graph.</summary>
    public OnnxModule Graph => (OnnxModule)Module;

    /// <inheritdoc/>
    public override bool IsExecutable => true;

    /// <summary>The graph input names (initializers excluded), in the graph's order.</summary>
    public override IReadOnlyList<string> InputNames => Graph.InputNames;

    /// <summary>The graph output names, in the graph's order.</summary>
    public override IReadOnlyList<string> OutputNames => Graph.OutputNames;

    /// <summary>Runs the graph on one batch and returns its first output: a one-input graph takes it as is, a graph with
    /// several inputs is fed it through <see cref="Feed"/>.</summary>
    /// <exception cref="CompressException">An input the batch cannot provide.</exception>
    public override Tensor Forward(Tensor input) => InputNames.Count == 1 ? Graph.forward(input) : base.Forward(input);

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs) => Graph.Run(inputs);

    /// <summary>The named inputs for a data batch: a float batch is the first input; token ids [N, T] (int64) are
    /// <c>input_ids</c> (or the first input), with <c>attention_mask</c> = ids ≠ 0 (int64) and <c>token_type_ids</c> = 0
    /// when the graph takes them. The ids are not trimmed. The tensors belong to the caller's dispose scope.</summary>
    /// <exception cref="CompressException">The graph takes another input that a batch cannot give (kind
    /// <see cref="ErrorKind.InvalidInput"/>, naming it).</exception>
    public override IReadOnlyDictionary<string, Tensor> Feed(Tensor batch)
    {
        var names = InputNames;
        bool ids = batch.dtype == ScalarType.Int64 && batch.dim() == 2;
        string primary = ids && names.Contains(InputIds) ? InputIds : names[0];
        var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [primary] = batch.alias() };
        foreach (var name in names)
        {
            if (name == primary) continue;
            feed[name] = (ids, name) switch
            {
                (true, AttentionMask) => batch.ne(0).to_type(ScalarType.Int64),
                (true, TokenTypeIds) => zeros_like(batch),
                _ => throw new CompressException(ErrorKind.InvalidInput,
                    $"cannot feed the model input '{name}' from a data batch of {batch.dtype} [{string.Join(", ", batch.shape)}] " +
                    $"(the batch goes to '{primary}'; from token ids [N, T] the inputs {AttentionMask} and {TokenTypeIds} are derived)"),
            };
        }
        return feed;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ModelBlock> FindBlocks(IReadOnlyCollection<string> layers, IReadOnlyDictionary<string, Tensor> example) =>
        OnnxBlocks.Find(Graph, layers, example).Select(b => new ModelBlock(b.Layers, b.Inputs, b.Outputs)).ToList();

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> RunValues(IReadOnlyDictionary<string, Tensor> given, IReadOnlyCollection<string> wanted,
        Action<string, Tensor>? observe = null) => Graph.RunValues(given, wanted, observe);

    /// <summary>SmoothQuant's fold on the graph: into a layer normalisation or a dense linear layer that produces the
    /// layers' input (<see cref="OnnxInputScaleFold"/>).</summary>
    public override string? FoldInputScale(IReadOnlyList<string> layers, Tensor divisor) => OnnxInputScaleFold.Fold(Graph, layers, divisor);

    /// <summary>The BatchNormalization after a convolution, folded into it (<see cref="OnnxNormalizationFold"/>).</summary>
    public override string? FoldOutputNormalization(string layer) => OnnxNormalizationFold.Fold(Graph, layer);

    /// <summary>Whether the layer's output reaches the graph only through a Relu (<see cref="OnnxRectifiedOutput"/>).</summary>
    public override bool OutputIsRectified(string layer) => OnnxRectifiedOutput.Of(Graph, layer);

    /// <inheritdoc/>
    protected override EngineModel CreateEmptyCopy() =>
        new ImportedModel(OnnxImporter.Build(Graph.GraphWithoutWeights(), withWeights: false, baseDirectory: null, what: "imported ONNX graph"), Kinds, Steps);
}
