using System.Collections.Concurrent;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Sdk.Architectures;

/// <summary>The architectures <c>compress</c> knows by name. Plugins may register more.</summary>
public static class ArchitectureRegistry
{
    private static readonly ConcurrentDictionary<string, IArchitecture> Known = new(StringComparer.OrdinalIgnoreCase);

    static ArchitectureRegistry()
    {
        Register(new MlpArchitecture());
        Register(new SmallCnnArchitecture());
        Register(new VitArchitecture());
        Register(new Gpt2Architecture());
        Register(new Onnx.Import.OnnxArchitecture());
    }

    /// <summary>Every registered architecture, by name.</summary>
    public static IReadOnlyList<IArchitecture> All => Known.Values.OrderBy(a => a.Name, StringComparer.Ordinal).ToList();

    /// <summary>Adds (or replaces) an architecture.</summary>
    public static void Register(IArchitecture architecture) => Known[architecture.Name] = architecture;

    /// <summary>The architecture called <paramref name="name"/>.</summary>
    /// <exception cref="CompressException">Unknown name.</exception>
    public static IArchitecture Get(string name) => Known.TryGetValue(name, out var a)
        ? a
        : throw new CompressException(ErrorKind.InvalidOptions, $"unknown architecture '{name}' (known: {string.Join(", ", All.Select(x => x.Name))})");

    /// <summary>Builds the module of <paramref name="spec"/>.</summary>
    public static torch.nn.Module Create(ArchitectureSpec spec) => Get(spec.Name).Create(Get(spec.Name).Complete(spec.Config));

    /// <summary>A preset name (e.g. <c>deit-small</c>, <c>vit-mnist</c>, <c>gpt2</c>) → its architecture and config, or null.</summary>
    public static ArchitectureSpec? Preset(string name)
    {
        if (VitArchitecture.Presets.TryGetValue(name, out var v)) return Spec("vit", (JObject)v.DeepClone());
        if (Gpt2Architecture.Presets.TryGetValue(name, out var g)) return Spec("gpt", (JObject)g.DeepClone());
        return null;
    }

    /// <summary>A complete spec for <paramref name="name"/> with <paramref name="config"/> over the defaults.</summary>
    public static ArchitectureSpec Spec(string name, JObject? config = null)
    {
        var a = Get(name);
        return new ArchitectureSpec(a.Name, a.Complete(config));
    }
}
