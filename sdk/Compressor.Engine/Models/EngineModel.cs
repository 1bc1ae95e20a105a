using Compressor.Engine.Kinds;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Models;

/// <summary>The base of the models the engine builds (a built-in architecture, an imported ONNX graph, a tree of
/// weights alone): besides the contract's <see cref="CompressibleModel"/>, the architecture it was built from, the
/// plugin steps applied to it (written to the compression manifest) and the compressed layer kinds it was loaded
/// with, which rebuild its compressed layers for a frozen copy and for saving.</summary>
public abstract class EngineModel : CompressibleModel
{
    /// <summary>Wraps <paramref name="module"/>.</summary>
    /// <param name="module">The root module.</param>
    /// <param name="spec">The architecture and its config, or null for a model of unknown architecture.</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    protected EngineModel(nn.Module module, ArchitectureSpec? spec, LayerKindSet kinds, IEnumerable<AppliedStep>? steps)
        : base(module, spec?.Name)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        Spec = spec;
        Kinds = kinds;
        Steps = (steps ?? []).ToList();
    }

    /// <summary>The architecture and its config (what a checkpoint's metadata stores), or null when unknown.</summary>
    public ArchitectureSpec? Spec { get; }

    /// <summary>Plugin steps applied to this model so far, oldest first.</summary>
    public List<AppliedStep> Steps { get; }

    /// <summary>The compressed layer kinds this model was loaded with.</summary>
    public LayerKindSet Kinds { get; }

    /// <summary>An empty model of the same structure (fresh module, compressed layers not yet rebuilt), on the CPU,
    /// for <see cref="FrozenCopy"/>; null when the model cannot be rebuilt.</summary>
    protected virtual EngineModel? CreateEmptyCopy() => null;

    /// <summary>A copy built afresh from the same architecture and config: every compressed layer rebuilt by its kind
    /// (same kind and config, through the file form), every tensor copied, in evaluation mode with every parameter
    /// frozen, on the device of this model. The copy is independent: changing its tensors leaves this model as it is.</summary>
    /// <exception cref="CompressException">The model cannot be copied (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public override CompressibleModel FrozenCopy()
    {
        // A fresh module draws its initial weights from torch's global generator: leave that generator as it was, so
        // that taking a copy changes nothing else a run draws.
        EngineModel? copy;
        using (var rng = get_rng_state())
        {
            try { copy = CpuConstruction.Run(CreateEmptyCopy); }
            finally { set_rng_state(rng); }
        }
        if (copy is null) return base.FrozenCopy();
        try
        {
            foreach (var (name, layer) in CompressedLayers())
            {
                try { copy.ReplaceLayer(name, CpuConstruction.Run(() => LayerConfigJson.CreateLike(Kinds, layer, name))); }
                catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
                {
                    throw new CompressException(ErrorKind.InvalidInput, $"a model of architecture {ArchitectureName ?? "unknown"} cannot be copied: {e.Message}");
                }
            }
            var device = Module.parameters().Select(p => p.device).Concat(Module.buffers().Select(b => b.device)).FirstOrDefault() ?? CPU;
            copy.Module.to(device);
            var source = Module.state_dict();
            var target = copy.Module.state_dict();
            var missing = source.Keys.Where(k => !target.ContainsKey(k)).Concat(target.Keys.Where(k => !source.ContainsKey(k))).FirstOrDefault();
            if (missing is not null)
                throw new CompressException(ErrorKind.InvalidInput,
                    $"a model of architecture {ArchitectureName ?? "unknown"} cannot be copied: tensor '{missing}' is not in both the model and its rebuilt copy");
            using (no_grad())
                foreach (var (name, t) in target)
                {
                    var s = source[name];
                    if (!s.shape.SequenceEqual(t.shape))
                        throw new CompressException(ErrorKind.InvalidInput,
                            $"a model of architecture {ArchitectureName ?? "unknown"} cannot be copied: tensor '{name}' has shape [{string.Join(", ", s.shape)}], the rebuilt copy [{string.Join(", ", t.shape)}]");
                    t.copy_(s);
                }
            copy.Module.eval();
            foreach (var p in copy.Module.parameters()) p.requires_grad = false;
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }
}
