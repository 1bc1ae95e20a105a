using System.Globalization;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A model of a built-in architecture (<see cref="IArchitecture"/>): executable, one tensor in and one out.
/// It knows its transformer structure when it is a ViT/DeiT (<see cref="Transformer"/>) and copies itself by building
/// the architecture afresh (<see cref="EngineModel.FrozenCopy"/>).</summary>
public sealed class ArchitectureModel : EngineModel
{
    /// <summary>Builds a freshly initialised module of <paramref name="architecture"/> with the config of
    /// <paramref name="spec"/> (completed with the architecture's defaults).</summary>
    /// <param name="architecture">The architecture.</param>
    /// <param name="spec">Its name and config.</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    /// <exception cref="ArgumentException">The spec names another architecture.</exception>
    /// <exception cref="CompressException">A bad config (kind <see cref="ErrorKind.InvalidOptions"/>).</exception>
    public ArchitectureModel(IArchitecture architecture, ArchitectureSpec spec, LayerKindSet kinds, IEnumerable<AppliedStep>? steps = null)
        : this(architecture, Complete(architecture, spec), kinds, steps, completed: true) { }

    private ArchitectureModel(IArchitecture architecture, ArchitectureSpec complete, LayerKindSet kinds, IEnumerable<AppliedStep>? steps, bool completed)
        : base(architecture.Create(complete.Config), complete, kinds, steps)
    {
        System.Diagnostics.Debug.Assert(completed);
        Architecture = architecture;
    }

    /// <summary>The architecture.</summary>
    public IArchitecture Architecture { get; }

    /// <summary>The architecture and its complete config.</summary>
    public new ArchitectureSpec Spec => base.Spec!;

    /// <summary>For the built-in ViT/DeiT: blocks <c>blocks.{i}</c> with attention <c>blocks.{i}.attn</c> (<c>qkv</c>,
    /// <c>proj</c>), feed-forward <c>blocks.{i}.mlp.fc1</c> / <c>fc2</c>, input layer <c>patch_embed.proj</c>, heads
    /// <c>head</c> (and <c>head_dist</c> when distilled). Null for the other architectures.</summary>
    public override TransformerLayout? Transformer
    {
        get
        {
            if (Module is not VisionTransformer vit) return null;
            var blocks = new List<TransformerBlockLayout>(vit.Depth);
            for (int i = 0; i < vit.Depth; i++)
            {
                string block = "blocks." + i.ToString(CultureInfo.InvariantCulture);
                blocks.Add(new TransformerBlockLayout(block, new AttentionLayout(block + ".attn", vit.AttentionHeads, "qkv", "proj"),
                    block + ".mlp.fc1", block + ".mlp.fc2"));
            }
            IReadOnlyList<string> heads = vit.Distilled ? ["head", "head_dist"] : ["head"];
            return new TransformerLayout(blocks, ["patch_embed.proj"], heads);
        }
    }

    /// <summary>SmoothQuant's fold for the built-in transformers: a single q/k/v projection or fc1 into the
    /// LayerNorm before it, the output projection into the value rows of the q/k/v projection
    /// (<see cref="TransformerBlock.FoldInputScale"/>); null for anything else.</summary>
    public override string? FoldInputScale(IReadOnlyList<string> layers, torch.Tensor divisor)
    {
        if (layers.Count != 1) return null;
        string name = layers[0];
        for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
        {
            string prefix = name[..dot];
            nn.Module parent;
            try { parent = GetLayer(prefix); }
            catch (KeyNotFoundException) { continue; }
            if (parent is TransformerBlock block)
                return block.FoldInputScale(name[(dot + 1)..], divisor) is { } folded ? prefix + "." + folded : null;
        }
        return null;
    }

    /// <inheritdoc/>
    protected override EngineModel CreateEmptyCopy() => new ArchitectureModel(Architecture, Spec, Kinds, Steps, completed: true);

    private static ArchitectureSpec Complete(IArchitecture architecture, ArchitectureSpec spec)
    {
        if (!string.Equals(architecture.Name, spec.Name, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"the spec names architecture '{spec.Name}', not '{architecture.Name}'", nameof(spec));
        return new ArchitectureSpec(architecture.Name, architecture.Complete(spec.Config));
    }
}
