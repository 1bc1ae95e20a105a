namespace Compressor.Host.Results;

/// <summary><c>verification.layerKernels[]</c>: which ONNX Runtime kernels ran one compressed layer at ORT_ENABLE_ALL,
/// read back from the optimised graph.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Kind">Its compressed layer kind.</param>
/// <param name="Form"><c>integer</c> (an int8/uint8 kernel), <c>weight-only</c> (MatMulNBits) or <c>float</c> (a
/// float product remains: with <c>--target speed</c>, the layer fell back).</param>
/// <param name="Kernels">The operators that compute it, with node counts.</param>
public sealed record LayerKernelResult(string Layer, string Kind, string Form, IReadOnlyDictionary<string, int> Kernels);
