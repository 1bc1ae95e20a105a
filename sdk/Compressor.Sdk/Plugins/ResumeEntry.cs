using static TorchSharp.torch;

namespace Compressor.Sdk.Plugins;

/// <summary>An entry read back from an <see cref="IResumeStore"/>: the plugin's text and the named tensors it saved.
/// Dispose it to free the tensors.</summary>
public sealed class ResumeEntry : IDisposable
{
    /// <summary>Creates an entry that owns <paramref name="tensors"/>.</summary>
    public ResumeEntry(string state, IReadOnlyDictionary<string, Tensor> tensors)
    {
        State = state;
        Tensors = tensors;
    }

    /// <summary>The text saved with the entry.</summary>
    public string State { get; }

    /// <summary>The tensors saved with the entry, by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
