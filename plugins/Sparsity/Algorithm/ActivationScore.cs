namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Training-free activation sparsity scores.</summary>
public enum ActivationScore
{
    /// <summary>No activation sparsity.</summary>
    None,
    /// <summary>WINA: |x_i|·‖W[:, i]‖₂.</summary>
    Wina,
    /// <summary>TEAL: |x_i|.</summary>
    Teal,
}
