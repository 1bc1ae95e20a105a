namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The weighting of the mapping gradient through the index ([RECON] README "Mapping gradient").</summary>
public enum MappingGradientKind
{
    /// <summary>The paper's proposal: dL/du = g/Δ, decreasing with the gap to the neighbouring codeword.</summary>
    Proximal,
    /// <summary>The STE through a piecewise-linear codebook: dL/du = g·Δ, growing with the gap.</summary>
    Default,
}
