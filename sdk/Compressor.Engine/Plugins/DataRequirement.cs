namespace Compressor.Engine.Plugins;

/// <summary>Which data a plugin needs to run.</summary>
public enum DataRequirement
{
    /// <summary>Data-free: works on weights alone (also on weights-only models).</summary>
    None,
    /// <summary>A small unlabeled calibration set and an executable model.</summary>
    Calibration,
    /// <summary>A training set (labels where the loss needs them) and an executable model.</summary>
    Training,
    /// <summary>Data-free by default; some options use a calibration set when the run has one (<c>rtn</c>'s static
    /// activation quantization and SmoothQuant). The plugin reports a missing set itself.</summary>
    Optional,
}
