using Compressor.Layers.Calibration;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Runs the model block by block on the calibration batches, each block on inputs computed by the model as it
/// is now — every earlier block already quantized (README "Calibration"). On a graph (an imported ONNX model) the
/// blocks are those <see cref="CompressibleModel.FindBlocks"/> cuts, and a block's inputs are computed from the
/// previous block's inputs (and the model inputs, for side values such as the attention mask), so each block runs once
/// per pass, as in the reference. A model that cannot be cut is one block, run whole.</summary>
public sealed class BlockStream : IDisposable
{
    private readonly CompressibleModel _model;
    private readonly CalibrationFeeder _feeder;
    private readonly IReadOnlyList<ModelBlock>? _blocks;
    private readonly List<Dictionary<string, Tensor>> _feeds = [];
    private readonly List<Dictionary<string, Tensor>> _blockInputs = [];
    private int _current = -1;

    /// <summary>Cuts <paramref name="model"/> around <paramref name="layers"/> (in execution order when it can).</summary>
    public BlockStream(CompressibleModel model, CalibrationFeeder feeder, IReadOnlyList<string> layers)
    {
        _model = model;
        _feeder = feeder;
        using (var scope = NewDisposeScope())
            _blocks = model.FindBlocks(layers, feeder.Inputs(model, 0));
        Blocks = _blocks is null ? [layers] : _blocks.Select(b => b.Layers).ToList();
        if (_blocks is null) return;
        for (int b = 0; b < feeder.BatchCount; b++)
        {
            using var scope = NewDisposeScope();
            var feed = feeder.Inputs(model, b).ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
            _feeds.Add(feed);
            _blockInputs.Add(new Dictionary<string, Tensor>(StringComparer.Ordinal));
        }
    }

    /// <summary>While a batch runs: which of its token positions are real tokens (flattened [N·T], from the feed's
    /// <c>attention_mask</c>), or null (no mask: images, features, a model run whole). Padding positions are computed by
    /// the model but never reach an output, so they are not calibration data (README "Calibration").</summary>
    public Tensor? TokenMask { get; private set; }

    /// <summary>The layers of each block, in execution order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Blocks { get; }

    /// <summary>Whether the model was cut into blocks (false: one block, the whole model).</summary>
    public bool IsCut => _blocks is not null;

    /// <summary>Computes block <paramref name="index"/>'s inputs from the model as it is now (blocks in order).</summary>
    public void Enter(int index, CancellationToken cancellation)
    {
        if (index != _current + 1) throw new InvalidOperationException("blocks are entered in order");
        _current = index;
        if (_blocks is null) return;
        using var noGrad = no_grad();
        for (int b = 0; b < _feeds.Count; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var given = Given(b);
            var inputs = _model.RunValues(given, _blocks[index].Inputs);
            var kept = inputs.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope(), StringComparer.Ordinal);
            foreach (var t in _blockInputs[b].Values) t.Dispose();
            _blockInputs[b] = kept;
        }
    }

    /// <summary>Computes the current block's inputs again from the model inputs (after a change before the block, such
    /// as an AWQ scale folded into an earlier block's normalisation).</summary>
    public void Recompute(CancellationToken cancellation)
    {
        if (_blocks is null) return;
        using var noGrad = no_grad();
        for (int b = 0; b < _feeds.Count; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var inputs = _model.RunValues(_feeds[b], _blocks[_current].Inputs);
            var kept = inputs.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope(), StringComparer.Ordinal);
            foreach (var t in _blockInputs[b].Values) t.Dispose();
            _blockInputs[b] = kept;
        }
    }

    /// <summary>Runs the current block on every calibration batch (outputs discarded: stand-in layers observe).</summary>
    public void Run(CancellationToken cancellation)
    {
        using var noGrad = no_grad();
        if (_blocks is null)
        {
            _feeder.RunAll(_model, cancellation);
            return;
        }
        for (int b = 0; b < _feeds.Count; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            TokenMask = _feeds[b].TryGetValue(MaskName, out var mask) && mask.dim() == 2 ? mask.ne(0).flatten() : null;
            try
            {
                _model.RunValues(Given(b), _blocks[_current].Outputs);
            }
            finally
            {
                TokenMask = null;
            }
        }
    }

    /// <summary>The feed name of an encoder's padding mask.</summary>
    public const string MaskName = "attention_mask";

    /// <summary>The model's outputs on the first <paramref name="samples"/> calibration samples (caller's scope), flattened.</summary>
    public Tensor Probe(int samples) => _feeder.Run(_model, 0, samples);

    /// <summary>The current block's outputs on the first calibration batch's block inputs (caller's scope), flattened
    /// (the model's outputs on that batch when the model is one block). Inputs are the values held for this block, so a
    /// change before the block does not show here.</summary>
    public Tensor ProbeBlock()
    {
        using var noGrad = no_grad();
        if (_blocks is null) return _feeder.Run(_model, 0);
        var outputs = _model.RunValues(Given(0), _blocks[_current].Outputs);
        return cat(outputs.Values.Select(t => t.to_type(ScalarType.Float32).flatten()).ToList(), 0);
    }

    private Dictionary<string, Tensor> Given(int b)
    {
        var given = new Dictionary<string, Tensor>(_feeds[b], StringComparer.Ordinal);
        foreach (var (name, t) in _blockInputs[b]) given[name] = t;
        return given;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var d in _feeds.Concat(_blockInputs))
            foreach (var t in d.Values) t.Dispose();
        _feeds.Clear();
        _blockInputs.Clear();
    }
}
