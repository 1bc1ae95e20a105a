using System.Collections.Frozen;
using Compressor.Engine.Architectures;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Import;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Engine.Checkpoints;

/// <summary>The architectures <c>compress</c> knows by name: the built-ins (mlp, cnn, vit, gpt, bert, llama) and imported ONNX
/// graphs (<see cref="OnnxArchitecture"/>). A fixed list: nothing registers more at run time.</summary>
public static class ArchitectureRegistry
{
    private static readonly FrozenDictionary<string, IArchitecture> Known = new IArchitecture[]
    {
        new MlpArchitecture(), new SmallCnnArchitecture(), new VitArchitecture(), new Gpt2Architecture(), new BertArchitecture(), new LlamaArchitecture(),
        new OnnxArchitecture(),
    }.ToFrozenDictionary(a => a.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Other names the architectures answer to: the Hugging Face <c>model_type</c>s and the timm family.</summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt2"] = "gpt", ["qwen2"] = "llama", ["mistral"] = "llama", ["deit"] = "vit",
    };

    /// <summary>Every architecture, by name.</summary>
    public static IReadOnlyList<IArchitecture> All { get; } = Known.Values.OrderBy(a => a.Name, StringComparer.Ordinal).ToList();

    /// <summary>The architecture called <paramref name="name"/>.</summary>
    /// <exception cref="CompressException">Unknown name.</exception>
    public static IArchitecture Get(string name) => Known.TryGetValue(Aliases.TryGetValue(name, out var alias) ? alias : name, out var a)
        ? a
        : throw new CompressException(ErrorKind.InvalidOptions, $"unknown architecture '{name}' (known: {string.Join(", ", All.Select(x => x.Name))})");

    /// <summary>Builds the module of <paramref name="spec"/>.</summary>
    public static torch.nn.Module Create(ArchitectureSpec spec) => Get(spec.Name).Create(Get(spec.Name).Complete(spec.Config));

    /// <summary>Builds a freshly initialised model of <paramref name="spec"/>: an <see cref="ImportedModel"/> for an
    /// imported graph (<c>onnx</c>), an <see cref="ArchitectureModel"/> otherwise.</summary>
    /// <param name="spec">The architecture and its config (completed with the defaults).</param>
    /// <param name="kinds">The compressed layer kinds of the run (none when null).</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    /// <exception cref="CompressException">Unknown architecture or bad config.</exception>
    public static EngineModel CreateModel(ArchitectureSpec spec, LayerKindSet? kinds = null, IEnumerable<AppliedStep>? steps = null)
    {
        var architecture = Get(spec.Name);
        kinds ??= LayerKindSet.Empty;
        if (architecture is OnnxArchitecture)
        {
            var module = (OnnxModule)architecture.Create(architecture.Complete(spec.Config));
            return new ImportedModel(module, kinds, steps);
        }
        return new ArchitectureModel(architecture, spec, kinds, steps);
    }

    /// <summary>A preset name (e.g. <c>deit-small</c>, <c>vit-mnist</c>, <c>gpt2</c>) → its architecture and config, or null.</summary>
    public static ArchitectureSpec? Preset(string name)
    {
        if (VitArchitecture.Presets.TryGetValue(name, out var v)) return Spec("vit", (JObject)v.DeepClone());
        if (Gpt2Architecture.Presets.TryGetValue(name, out var g)) return Spec("gpt", (JObject)g.DeepClone());
        if (BertArchitecture.Presets.TryGetValue(name, out var b)) return Spec("bert", (JObject)b.DeepClone());
        if (LlamaArchitecture.Presets.TryGetValue(name, out var l)) return Spec("llama", (JObject)l.DeepClone());
        return null;
    }

    /// <summary>A complete spec for <paramref name="name"/> with <paramref name="config"/> over the defaults.</summary>
    public static ArchitectureSpec Spec(string name, JObject? config = null)
    {
        var a = Get(name);
        return new ArchitectureSpec(a.Name, a.Complete(config));
    }
}
