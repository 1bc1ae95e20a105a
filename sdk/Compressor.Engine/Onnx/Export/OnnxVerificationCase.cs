using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>One set of graph inputs the verification gate feeds.</summary>
/// <param name="Name">What it exercises (e.g. <c>prefill</c>, <c>decode step</c>).</param>
/// <param name="Inputs">Every graph input by name.</param>
public sealed record OnnxVerificationCase(string Name, IReadOnlyDictionary<string, Tensor> Inputs);
