using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>A root module whose ONNX graph takes other inputs and gives other outputs than its <c>forward</c> (a
/// decoder's key/value-cache graph, <see cref="DecoderCacheNames"/>, where <c>forward</c> recomputes the whole
/// sequence): it computes the graph's outputs in TorchSharp, so that the verification gate compares like with like,
/// and names the inputs the gate feeds.</summary>
public interface IOnnxGraphReference
{
    /// <summary>What the graph computes, in TorchSharp, on named graph inputs; every graph output by name (new tensors
    /// owned by the caller). Children are run through their own <c>forward</c>, so a replaced layer takes part as it
    /// does in the model.</summary>
    IReadOnlyDictionary<string, Tensor> RunGraph(IReadOnlyDictionary<string, Tensor> inputs);

    /// <summary>The inputs the verification gate feeds, seeded; the first case is the gate's main one (its per-layer
    /// outputs are compared too).</summary>
    IReadOnlyList<OnnxVerificationCase> VerificationCases(int seed);
}
