using Compressor.Sdk.Plugins;

namespace Compressor.Plugins.Sparsity;

/// <summary>The <c>sparsity</c> plugin: replaces feed-forward linears by structured forms (LowRank, BlockShuffle,
/// BlockDense; StructuredFFN, Wei et al., NeurIPS 2024) fitted from the dense weights or trained from scratch, with
/// self-guided training, distillation recovery and pre-merge; or adds training-free activation sparsity (WINA /
/// TEAL) as a TopK mask. The layer kinds and their ONNX lowerings live in the SDK
/// (<c>Compressor.Sdk.Layers.Structured</c>).</summary>
public sealed class SparsityPlugin : CompressionPlugin<SparsityOptions>
{
    /// <inheritdoc/>
    protected override PluginResult Run(PluginContext context, SparsityOptions options)
    {
        if (options.ActivationSparsity != ActivationScore.None) ActivationSparsity.Apply(context, options);
        else StructuredFfn.Apply(context, options);
        return PluginResult.Of(context.Model);
    }
}
