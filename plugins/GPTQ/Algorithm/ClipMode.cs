namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>When AWQ's per-group clipping search runs (README "AWQ").</summary>
public enum ClipMode
{
    /// <summary>With <c>--rounding nearest</c> (AWQ as published), not before GPTQ: clamping first takes from GPTQ the
    /// original weights its error feedback aims at (measured on MiniLM, README "AWQ").</summary>
    Auto,
    /// <summary>Always (with <c>--awq</c>).</summary>
    On,
    /// <summary>Never.</summary>
    Off,
}
