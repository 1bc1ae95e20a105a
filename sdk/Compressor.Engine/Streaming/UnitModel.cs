using Compressor.Engine.Architectures;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>One unit of a streamed run as the model a plugin sees: a single transformer block (hidden states [B, T, D]
/// in and out) or the head (the last block's output → logits, with the embeddings and the output head as layers).
/// Layer names are those of the whole model (<c>model.layers.3.mlp.up_proj</c>), so <c>--include</c>/<c>--exclude</c>
/// globs, report rows and the compressed checkpoint read the same as in a run that holds the whole model. A plugin
/// that works layer by layer or block by block (data-free rounding, GPTQ's block-wise Hessians) computes on it exactly
/// what it computes on that block of the whole model, given the block's inputs as its calibration data.</summary>
public sealed class UnitModel : EngineModel
{
    private readonly Func<Tensor, Tensor> _forward;
    private readonly bool _ownsModule;
    private readonly Action? _released;
    private readonly TransformerLayout? _layout;
    private readonly string? _blockName;
    private bool _disposed;

    private UnitModel(nn.Module module, ArchitectureSpec spec, LayerKindSet kinds, Func<Tensor, Tensor> forward, bool ownsModule, Action? released,
        TransformerLayout? layout, string? blockName)
        : base(module, spec, kinds, null)
    {
        _forward = forward;
        _ownsModule = ownsModule;
        _released = released;
        _layout = layout;
        _blockName = blockName;
    }

    /// <summary>The block's name (<c>model.layers.3</c>), or null for the head unit.</summary>
    public string? BlockName => _blockName;

    /// <summary>The block module itself (null for the head unit).</summary>
    public nn.Module? Block => _blockName is null ? null : GetLayer(_blockName);

    /// <summary>A block unit: <paramref name="block"/> under path nodes named after <paramref name="blockName"/>; owned
    /// (disposed with the unit, then <paramref name="released"/> runs).</summary>
    public static UnitModel ForBlock(ArchitectureSpec spec, LayerKindSet kinds, string blockName, nn.Module block, Action? released = null,
        TransformerBlockLayout? layout = null)
    {
        nn.Module node = block;
        var segments = blockName.Split('.');
        for (int i = segments.Length - 1; i >= 0; i--) node = new PathNode(segments[i], node);
        var run = (nn.Module<Tensor, Tensor>)block;
        return new UnitModel(node, spec, kinds, run.forward, ownsModule: true, released,
            layout is null ? null : new TransformerLayout([layout], [], []), blockName);
    }

    /// <summary>The head unit over a streamed run's shell (not owned): the last block's output → logits; its layers are
    /// the embeddings and the output head.</summary>
    public static UnitModel ForHead(EngineModel shell, TransformerLayout? layout = null)
    {
        var stack = (IDecoderStack)shell.Module;
        return new UnitModel(shell.Module, shell.Spec!, shell.Kinds, stack.Head, ownsModule: false, null,
            layout is null ? null : new TransformerLayout([], layout.Inputs, layout.Heads), null);
    }

    /// <inheritdoc/>
    public override bool IsExecutable => true;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _forward(input);

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (!inputs.TryGetValue(SingleInputName, out var x))
            throw new CompressException(ErrorKind.InvalidInput, $"a streamed unit takes one input named '{SingleInputName}'");
        return new Dictionary<string, Tensor>(StringComparer.Ordinal) { [SingleOutputName] = _forward(x) };
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> Feed(Tensor batch) =>
        new Dictionary<string, Tensor>(StringComparer.Ordinal) { [SingleInputName] = batch.alias() };

    /// <inheritdoc/>
    public override TransformerLayout? Transformer => _layout;

    /// <summary>SmoothQuant's fold inside a GPT-2 block (see <see cref="TransformerBlock.FoldInputScale"/>); null elsewhere.</summary>
    public override string? FoldInputScale(IReadOnlyList<string> layers, Tensor divisor)
    {
        if (layers.Count != 1 || _blockName is null || !layers[0].StartsWith(_blockName + ".", StringComparison.Ordinal)) return null;
        return Block is TransformerBlock block && block.FoldInputScale(layers[0][(_blockName.Length + 1)..], divisor) is { } folded
            ? _blockName + "." + folded : null;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing || _disposed) return;
        _disposed = true;
        if (_ownsModule)
        {
            Module.Dispose();
            _released?.Invoke();
        }
    }
}
