using Compressor.Sdk.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Plugins;

/// <summary>A plugin step's resumable state, kept in its work folder so that an interrupted run (killed, out of time)
/// continues where it stopped when run again with the same inputs. Entries are named; each holds a text (the plugin's
/// own JSON: step counts, loss histories), named tensors, and optionally an optimizer's state or a compressed layer.
/// An entry is written atomically with its text last, so a half-written entry is never read back.</summary>
public interface IResumeStore
{
    /// <summary>A part of the state (for example one training phase, or the per-layer results) that belongs to the run
    /// <paramref name="fingerprint"/> identifies (options, seed, data, layer list): when the section holds entries of
    /// another fingerprint, they are deleted first, so a changed run starts afresh.</summary>
    /// <param name="name">The section's name, a file-name-safe word.</param>
    /// <param name="fingerprint">Whatever must match for saved state to be reused.</param>
    IResumeStore Section(string name, string fingerprint);

    /// <summary>Saves entry <paramref name="key"/>: the tensors, the optimizer's state (when given) and then
    /// <paramref name="state"/>, replacing an earlier entry of that key.</summary>
    void Save(string key, string state, IEnumerable<(string Name, Tensor Tensor)> tensors, optim.Optimizer? optimizer = null);

    /// <summary>Loads entry <paramref name="key"/>, or null when there is none. The optimizer's state, when given, is
    /// loaded from it. The caller disposes the entry (its tensors).</summary>
    ResumeEntry? Load(string key, optim.Optimizer? optimizer = null);

    /// <summary>Saves a finished compressed layer (its kind, config and tensors) with <paramref name="state"/> as entry
    /// <paramref name="key"/>.</summary>
    void SaveLayer(string key, string state, ICompressedLayer layer);

    /// <summary>Rebuilds the compressed layer saved as entry <paramref name="key"/> (with its kind's factory and its
    /// tensors), or null when there is none.</summary>
    (nn.Module Layer, string State)? LoadLayer(string key);
}
