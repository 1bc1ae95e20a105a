using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;
using TorchSharp;
using static TorchSharp.torch;

namespace Sparsity.Tests;

/// <summary>An <see cref="IResumeStore"/> that passes every call to <paramref name="inner"/> and records, as
/// <c>section/key</c>, the entries saved and the entries found on loading (a load that returned state).</summary>
internal sealed class RecordingResumeStore(IResumeStore inner, RecordingResumeStore.Log log, string prefix = "") : IResumeStore
{
    /// <summary>What the stores of one run (a root and its sections) did.</summary>
    public sealed class Log
    {
        public List<string> Saved { get; } = [];
        public List<string> Found { get; } = [];
    }

    public IResumeStore Section(string name, string fingerprint) => new RecordingResumeStore(inner.Section(name, fingerprint), log, prefix + name + "/");

    public void Save(string key, string state, IEnumerable<(string Name, Tensor Tensor)> tensors, optim.Optimizer? optimizer = null)
    {
        inner.Save(key, state, tensors, optimizer);
        log.Saved.Add(prefix + key);
    }

    public ResumeEntry? Load(string key, optim.Optimizer? optimizer = null)
    {
        var entry = inner.Load(key, optimizer);
        if (entry is not null) log.Found.Add(prefix + key);
        return entry;
    }

    public void SaveLayer(string key, string state, ICompressedLayer layer)
    {
        inner.SaveLayer(key, state, layer);
        log.Saved.Add(prefix + key);
    }

    public (nn.Module Layer, string State)? LoadLayer(string key)
    {
        var entry = inner.LoadLayer(key);
        if (entry is not null) log.Found.Add(prefix + key);
        return entry;
    }
}
