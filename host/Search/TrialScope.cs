namespace Compressor.Host.Search;

/// <summary>How a treatment's per-layer trial obtains the treated weight (<see cref="TreatedWeights"/>).</summary>
public enum TrialScope
{
    /// <summary>Data-free (round-to-nearest): the plugin runs on a model holding a copy of that one layer; the result is
    /// the same as on the whole model, because the plugin reads only the layer's weight.</summary>
    Layer,

    /// <summary>Calibrated layer-wise (GPTQ): the plugin runs once over all searched layers of a copy of the model, and each
    /// layer's treated weight is taken from that run — one calibration pass per block instead of one per trial. Each
    /// layer's Hessian then comes from its inputs through the already treated earlier layers (as in the final recipe's
    /// step, which treats its layers together), not through float32 ones. A treatment that quantizes inputs too (W8A8)
    /// runs once over all searched linears the same way, and each trial puts that run's integer module itself into the
    /// input model (its calibration is the single-layer step's: every input range is observed on the float model in
    /// one pass before any layer is replaced).</summary>
    Joint,

    /// <summary>Anything else (codebooks, low-rank with its structural checks): the plugin runs on a copy of the whole
    /// model with only that layer selected.</summary>
    Model,
}
