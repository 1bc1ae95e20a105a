namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>How the codes are chosen once the grid is fixed (README "Rounding").</summary>
public enum Rounding
{
    /// <summary>GPTQ: column by column with second-order error feedback.</summary>
    Gptq,
    /// <summary>Round to the nearest grid point (with <c>--awq</c>: AWQ as published; alone: the RTN baseline on GPTQ's grid).</summary>
    Nearest,
}
