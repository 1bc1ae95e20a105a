namespace Compressor.Host.Search;

/// <summary>How the per-layer damage of each treatment is found (<c>--sensitivity</c>).</summary>
public enum SensitivityMode
{
    /// <summary>Measured when the measurement's estimated time fits <c>--sensitivity-time</c>, else estimated.</summary>
    Auto,
    /// <summary>Each layer treated alone and the model evaluated in process: the metric change itself.</summary>
    Measured,
    /// <summary>A second-order estimate from the Fisher information of the evaluation samples (Kronecker-factored for linear layers, diagonal for conv; HAWQ-style, no evaluation per trial).</summary>
    Fisher,
}
