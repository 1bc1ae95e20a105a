namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary>How <c>--activation-bits 8</c> quantizes each layer's input (README, "Activations (W8A8)").</summary>
public enum ActivationScheme
{
    /// <summary>One uint8 scale and zero point per layer input, calibrated on the run's data (<c>--calibration</c>).</summary>
    Static,
    /// <summary>Computed at run time per token (each row of the last axis), symmetric int8; no data needed.</summary>
    Dynamic,
    /// <summary>Computed at run time over the whole tensor, asymmetric uint8, as ONNX Runtime's quantize_dynamic; no data needed.</summary>
    DynamicTensor,
}
