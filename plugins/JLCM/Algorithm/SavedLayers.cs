using System.Text.Json;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;
using TorchSharp;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The finished layers of a run in its resume store, by their ordinal among the targets: the compressed layer
/// (kind, config, tensors) with its <see cref="LayerOutcome"/>, so that an interrupted run resumes after its last
/// finished layer (or block).</summary>
public sealed class SavedLayers(IResumeStore store)
{
    private static string Key(int index) => $"layer-{index:D4}";

    /// <summary>The saved layer <paramref name="index"/> when it is there and is <paramref name="name"/>; the caller owns the module.</summary>
    public (torch.nn.Module Layer, LayerOutcome Outcome)? Find(int index, string name)
    {
        if (store.LoadLayer(Key(index)) is not { } saved) return null;
        var outcome = JsonSerializer.Deserialize<LayerOutcome>(saved.State);
        if (outcome?.Name == name) return (saved.Layer, outcome);
        saved.Layer.Dispose();
        return null;
    }

    /// <summary>Whether layer <paramref name="index"/> is saved as <paramref name="name"/>.</summary>
    public bool Contains(int index, string name)
    {
        if (Find(index, name) is not { } saved) return false;
        saved.Layer.Dispose();
        return true;
    }

    /// <summary>Saves layer <paramref name="index"/>.</summary>
    public void Save(int index, LayerOutcome outcome, torch.nn.Module layer) =>
        store.SaveLayer(Key(index), JsonSerializer.Serialize(outcome), (ICompressedLayer)layer);
}
