using Compressor.Plugins.Sparsity.Algorithm;
using Compressor.Sdk.Plugins;

namespace Compressor.Plugins.Sparsity;

/// <summary>The <c>sparsity</c> plugin: replaces feed-forward linears by structured forms (LowRank, BlockShuffle,
/// BlockDense; StructuredFFN, Wei et al., NeurIPS 2024) fitted from the dense weights or trained from scratch, with
/// self-guided training, distillation recovery and pre-merge; or adds training-free activation sparsity (WINA /
/// TEAL) as a TopK mask. The layer kinds and their ONNX lowerings are the layers library's
/// (<c>Compressor.Layers.Structured</c>), so the compressed checkpoints reload and export without this plugin.</summary>
public sealed class SparsityPlugin : CompressionPlugin<SparsityOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, SparsityOptions options)
    {
        if (options.ActivationSparsity != ActivationScore.None) ActivationSparsity.Apply(context, options);
        else StructuredFfn.Apply(context, options);
    }
}
