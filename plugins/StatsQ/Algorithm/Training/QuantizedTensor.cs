namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>A weight tensor under QAT: its name, how to read its integer codes (for oscillation tracking), and — for
/// StatsQ tensors that CGA manages — the latent parameter and how to compute its pre-rounding values.</summary>
/// <param name="Name">Name for reports (the layer's name, or <c>…attn.qk</c> for the QKR product).</param>
/// <param name="Codes">Current integer codes.</param>
/// <param name="Latent">The latent weight CGA freezes, or null when CGA does not manage this tensor.</param>
/// <param name="PreRounding">v = clamp(W/s)·n − 0.5 of <see cref="Latent"/>, or null.</param>
/// <param name="Scale">The current quantization scale vector (StatsQ: 2·mean|w| per row; LSQ: the learned scales), for M4.</param>
public sealed record QuantizedTensor(string Name, Func<TorchSharp.torch.Tensor> Codes, TorchSharp.Modules.Parameter? Latent,
    Func<TorchSharp.torch.Tensor>? PreRounding, Func<TorchSharp.torch.Tensor> Scale);
