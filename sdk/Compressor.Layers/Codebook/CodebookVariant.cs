namespace Compressor.Layers.Codebook;

/// <summary>How the row groups of a <see cref="CodebookLayer"/> share codewords.</summary>
public enum CodebookVariant
{
    /// <summary>One codebook for the layer, one fp16 scale per group: w = s_g · C[k].</summary>
    Scales,
    /// <summary>One codebook per group: w = C_g[k].</summary>
    Codebooks,
}
