using Compressor.Engine.Architectures;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>One layer's weight as a treatment leaves it: its storage bits and its dense weight (the caller disposes it).</summary>
/// <param name="Bits">Storage bits of the treated weight (codes, scales, zero points, codebooks, factors).</param>
/// <param name="Dense">The dense weight it stands for, shaped like the layer's weight.</param>
public sealed record TreatedWeight(long Bits, Tensor Dense) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => Dense.Dispose();
}

/// <summary>The treated weight of any searched layer under any treatment, obtained as cheaply as the treatment allows
/// (<see cref="Treatment.Scope"/>), always by running the treatment's plugin:
/// <list type="bullet">
/// <item><see cref="TrialScope.Layer"/>: on a model holding a copy of that one linear layer (a conv layer takes the
/// <see cref="TrialScope.Model"/> path);</item>
/// <item><see cref="TrialScope.Joint"/>: one run over every searched layer of a copy of the model, kept for all the
/// layers' trials and the frontier's points (about the float32 model's size per treatment);</item>
/// <item><see cref="TrialScope.Model"/>: a copy of the whole model with only that layer selected, as a recipe step would.</item>
/// </list>
/// Nothing here changes the input model.</summary>
public sealed class TreatedWeights(TrialRunner trials, CompressibleModel pristine, IReadOnlyList<SearchLayer> layers, IPluginLogger log) : IDisposable
{
    // Treatment id → layer → its result (null: the treatment left the layer as it was); null: the joint run refused.
    private readonly Dictionary<string, Dictionary<string, (long Bits, Tensor Dense)?>?> _joint = new(StringComparer.Ordinal);

    // Treatment id → the copy its one run over every searched linear left (input-quantizing treatments); null: refused.
    private readonly Dictionary<string, CompressibleModel?> _jointModels = new(StringComparer.Ordinal);

    /// <summary>Plugin runs so far (for tests and the log).</summary>
    public int PluginRuns { get; private set; }

    /// <summary><paramref name="layer"/> under <paramref name="treatment"/>, or null when the treatment does not apply to
    /// it (the plugin refused the layer, or left it a float layer).</summary>
    /// <exception cref="CompressException">A plugin failed.</exception>
    public TreatedWeight? Of(SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        if (treatment.IsFp32) throw new ArgumentException("float32 is not a treatment to run", nameof(treatment));
        try
        {
            switch (treatment.Scope)
            {
                case TrialScope.Layer when pristine.GetLayer(layer.Name) is TorchSharp.Modules.Linear linear:
                    return OnSingleLayer(linear, layer, treatment, cancellation);
                case TrialScope.Joint:
                    if (Joint(treatment, cancellation) is { } all)
                        return all.TryGetValue(layer.Name, out var r) && r is { } hit ? new TreatedWeight(hit.Bits, hit.Dense.clone()) : null;
                    break;
            }
            using var model = trials.Apply([(treatment, [layer.Name])], cancellation);
            PluginRuns++;
            return Take(model, layer.Name);
        }
        catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
        {
            // A plugin that refuses the layer (sparsity's structures apply to feed-forward linears only) makes the treatment not apply to it.
            log.Debug($"search: {treatment.Id} does not apply to {layer.Name}: {e.Message}");
            return null;
        }
    }

    /// <summary>A copy of the input model with only <paramref name="layer"/> treated by <paramref name="treatment"/>, as a
    /// recipe step would treat it (the caller disposes it), or null when the treatment does not apply to the layer. For
    /// treatments whose effect is not only the weight's (<see cref="Treatment.QuantizesInputs"/>).</summary>
    /// <exception cref="CompressException">A plugin failed.</exception>
    public CompressibleModel? TreatedModel(SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        CompressibleModel? model = null;
        try
        {
            model = trials.Apply([(treatment, [layer.Name])], cancellation);
            PluginRuns++;
            if (model.GetLayer(layer.Name) is ICompressedLayer) return model;
            model.Dispose();
            return null;
        }
        catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
        {
            model?.Dispose();
            log.Debug($"search: {treatment.Id} does not apply to {layer.Name}: {e.Message}");
            return null;
        }
    }

    /// <summary>The layer <paramref name="treatment"/> makes of the linear <paramref name="layer"/>, taken from one run of
    /// the treatment over every searched linear layer (kept for all their trials), or null when that run refused the
    /// layers together or left this one a float layer (the caller then treats a copy with this layer alone). For
    /// treatments that quantize the layer's input as well (W8A8): the module stands for more than a weight, so a trial
    /// puts the module itself into the input model in place of the float layer. It is the module a single-layer run
    /// makes: the plugin calibrates every selected layer's input range in one pass over the float model (the layers
    /// are replaced only afterwards), with min-max ranges that no sampling seed moves; a convolution's static
    /// treatment also folds its BatchNormalization into it, a change outside the layer, so convolutions are not served
    /// here.</summary>
    /// <exception cref="CompressException">A plugin failed.</exception>
    public nn.Module? JointLayer(SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        if (pristine.GetLayer(layer.Name) is not TorchSharp.Modules.Linear) return null;
        if (!_jointModels.TryGetValue(treatment.Id, out var model))
        {
            var linears = layers.Where(l => pristine.GetLayer(l.Name) is TorchSharp.Modules.Linear).Select(l => l.Name).ToList();
            try
            {
                model = trials.Apply([(treatment, linears)], cancellation);
                PluginRuns++;
                log.Debug($"search: {treatment.Id} ran once over {linears.Count} linear layers for their trials");
            }
            catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
            {
                log.Debug($"search: {treatment.Id} refused the searched layers together ({e.Message}); its trials run one layer at a time");
                model = null;
            }
            _jointModels[treatment.Id] = model;
        }
        var module = model?.GetLayer(layer.Name);
        return module is ICompressedLayer ? module : null;
    }

    private TreatedWeight? OnSingleLayer(TorchSharp.Modules.Linear original, SearchLayer layer, Treatment treatment, CancellationToken cancellation)
    {
        var w = original.weight!;
        var b = original.bias;
        var copy = nn.Linear(w.shape[1], w.shape[0], hasBias: b is not null, device: w.device, dtype: w.dtype);
        using (no_grad())
        {
            copy.weight!.copy_(w);
            if (b is not null) copy.bias!.copy_(b);
        }
        // The plugin reads only the weight (data-free), so its result is the one it gives inside the whole model.
        using var model = new CompressibleModel(new LayerList([copy]));
        trials.Run(model, treatment, ["0"], [layer.Name], withData: false, 0, cancellation);
        PluginRuns++;
        return Take(model, "0");
    }

    private Dictionary<string, (long Bits, Tensor Dense)?>? Joint(Treatment treatment, CancellationToken cancellation)
    {
        if (_joint.TryGetValue(treatment.Id, out var done)) return done;
        Dictionary<string, (long, Tensor)?>? result;
        try
        {
            using var model = trials.Apply([(treatment, layers.Select(l => l.Name).ToList())], cancellation);
            PluginRuns++;
            result = new Dictionary<string, (long, Tensor)?>(StringComparer.Ordinal);
            foreach (var l in layers)
                result[l.Name] = Take(model, l.Name) is { } t ? (t.Bits, t.Dense) : null;
            log.Debug($"search: {treatment.Id} ran once over {layers.Count} layers for their trials");
        }
        catch (CompressException e) when (e.Kind == ErrorKind.InvalidOptions)
        {
            log.Debug($"search: {treatment.Id} refused the searched layers together ({e.Message}); its trials run one layer at a time");
            result = null;
        }
        _joint[treatment.Id] = result;
        return result;
    }

    /// <summary>The treated weight of <paramref name="name"/> in a treated copy, or null when it is a float layer.</summary>
    public static TreatedWeight? WeightIn(CompressibleModel model, string name) => Take(model, name);

    /// <summary>Whether the plugin changed anything of <paramref name="copy"/> besides <paramref name="layer"/> (JLCM folds its
    /// row permutation into the consumers' input columns; a correction may move a bias): then the layer's weight alone
    /// does not stand for the treatment, and its trial must evaluate the copy.</summary>
    public static bool ChangedElsewhere(CompressibleModel pristine, CompressibleModel copy, string layer)
    {
        var treated = copy.NamedTensors().ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
        foreach (var (name, tensor) in pristine.NamedTensors())
        {
            if (name.StartsWith(layer + ".", StringComparison.Ordinal)) continue;
            if (!treated.TryGetValue(name, out var other) || !other.shape.SequenceEqual(tensor.shape) || other.dtype != tensor.dtype) return true;
            using var scope = torch.NewDisposeScope();
            if (!other.equal(tensor.to(other.device)).all().item<bool>()) return true;
        }
        return false;
    }

    private static TreatedWeight? Take(CompressibleModel model, string name)
    {
        if (model.GetLayer(name) is not ICompressedLayer c) return null;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var dense = c.DenseWeight().detach().cpu().to_type(ScalarType.Float32).clone().DetachFromDisposeScope();
        return new TreatedWeight(c.WeightStorageBits, dense);
    }

    /// <summary>Frees the joint runs' weights and models.</summary>
    public void Dispose()
    {
        foreach (var m in _jointModels.Values) m?.Dispose();
        _jointModels.Clear();
        foreach (var all in _joint.Values)
            if (all is not null)
                foreach (var r in all.Values) r?.Dense.Dispose();
        _joint.Clear();
    }
}
