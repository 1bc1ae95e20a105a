using System.Security.Cryptography;
using Compressor.Engine.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>Proves that a plugin step left alone the layers its include/exclude selection leaves out: before the step
/// it records, for each weight-bearing layer the selection does not match, the module object and a SHA-256 of each
/// of its tensors (name, dtype, shape, bytes); after the step, a layer that is gone, was replaced by another module,
/// or whose tensors changed fails the run with <see cref="ErrorKind.SelectionViolated"/>. With no include or exclude
/// globs every layer is selected and there is nothing to check (and nothing is hashed).</summary>
public sealed class SelectionGuard
{
    private sealed record Snapshot(string Name, nn.Module Module, string Type, byte[] Hash);

    private readonly string _plugin;
    private readonly LayerSelector _selector;
    private readonly List<Snapshot> _unselected;
    private readonly WeightUpdateScope _updates;

    private SelectionGuard(string plugin, LayerSelector selector, List<Snapshot> unselected, WeightUpdateScope updates)
    {
        _updates = updates;
        _plugin = plugin;
        _selector = selector;
        _unselected = unselected;
    }

    /// <summary>How many layers are watched (those outside the selection).</summary>
    public int WatchedLayers => _unselected.Count;

    /// <summary>Records the layers of <paramref name="model"/> outside <paramref name="selector"/> before
    /// <paramref name="plugin"/> runs. With <paramref name="updates"/> = <see cref="WeightUpdateScope.Model"/> (a plugin
    /// that trains the whole model, declared in its manifest) only removal and replacement are checked, not weights.</summary>
    public static SelectionGuard Capture(string plugin, CompressibleModel model, LayerSelector selector, WeightUpdateScope updates = WeightUpdateScope.Selection)
    {
        var list = new List<Snapshot>();
        if (selector.Include.Count > 0 || selector.Exclude.Count > 0)
            foreach (var layer in model.Layers())
                if (!selector.Matches(layer.Name) && !list.Any(s => layer.Name.StartsWith(s.Name + ".", StringComparison.Ordinal)))
                    list.Add(new Snapshot(layer.Name, layer.Module, layer.Module.GetType().Name, updates == WeightUpdateScope.Model ? [] : Hash(layer.Module)));
        return new SelectionGuard(plugin, selector, list, updates);
    }

    /// <summary>Checks the watched layers after the step.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.SelectionViolated"/>, naming the plugin, the first
    /// offending layer, what happened to it, and the selection.</exception>
    public void Verify(CompressibleModel model)
    {
        if (_unselected.Count == 0) return;
        var modules = new Dictionary<string, nn.Module>(StringComparer.Ordinal);
        foreach (var (name, m) in model.NamedModules()) modules.TryAdd(name, m);
        var problems = new List<string>();
        foreach (var s in _unselected)
        {
            if (!modules.TryGetValue(s.Name, out var now)) problems.Add($"removed layer '{s.Name}'");
            else if (!ReferenceEquals(now, s.Module)) problems.Add($"replaced layer '{s.Name}' ({s.Type} by {now.GetType().Name})");
            else if (_updates == WeightUpdateScope.Selection && !Hash(now).AsSpan().SequenceEqual(s.Hash)) problems.Add($"changed the weights of layer '{s.Name}'");
        }
        if (problems.Count == 0) return;
        string more = problems.Count > 1 ? $" (and {problems.Count - 1} more layer(s))" : "";
        throw new CompressException(ErrorKind.SelectionViolated,
            $"plugin '{_plugin}' {problems[0]}{more} outside its selection ({Describe(_selector)}) and was stopped");
    }

    private static string Describe(LayerSelector selector)
    {
        var parts = new List<string>();
        if (selector.Include.Count > 0) parts.Add("--include " + string.Join(",", selector.Include));
        if (selector.Exclude.Count > 0) parts.Add("--exclude " + string.Join(",", selector.Exclude));
        return string.Join(" ", parts);
    }

    private static byte[] Hash(nn.Module module)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var scope = NewDisposeScope();
        foreach (var (name, t) in module.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}:{t.dtype}:[{string.Join(",", t.shape)}];"));
            var c = t.detach().cpu().contiguous();
            hash.AppendData(c.bytes);
        }
        return hash.GetHashAndReset();
    }
}
