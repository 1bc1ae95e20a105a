namespace Compressor.Sdk.Models;

/// <summary>The types of weight-bearing layers plugins target (a plugin's <c>"targets"</c> in <c>plugin.json</c>).</summary>
[Flags]
public enum LayerType
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>A fully connected layer, y = x Wᵀ + b, W of shape [out, in].</summary>
    Linear = 1,
    /// <summary>A 2-D convolution, W of shape [out, in/groups, kh, kw].</summary>
    Conv2d = 2,
    /// <summary>An embedding table, W of shape [vocabulary, dim].</summary>
    Embedding = 4,
    /// <summary>A layer already rewritten by a plugin (see <see cref="Layers.ICompressedLayer"/>).</summary>
    Compressed = 8,
}
